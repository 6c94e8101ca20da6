//! What runs INSIDE an app container, Cloud Foundry's buildpack app lifecycle:
//!
//! - the **builder** runs buildpacks against an app's source and produces a droplet, a
//!   build-artifacts cache and the staging result the stager reports to the Cloud Controller;
//! - the **launcher** starts an app from an unpacked droplet: it sets up the environment,
//!   sources the `.profile.d` scripts and execs the start command.
//!
//! Both are plain programs (`ingot lifecycle builder|launcher`) that work on files and child
//! processes only. This crate knows the buildpack contract and the droplet layout; it knows
//! nothing of Tasks, LRPs, containers or the Cloud Controller. Every path may be relative and is
//! resolved against the current directory, because on the process container backend the
//! container root is the cwd, not `/`.

use std::process::ExitCode;

pub mod builder;
pub mod launcher;
mod paths;
mod staging_info;

/// The two programs that run inside an app container.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum LifecycleCommand {
    /// Stage an app with buildpacks
    Builder(builder::BuilderArgs),
    /// Start an app from a droplet
    Launcher(launcher::LauncherArgs),
}

/// Runs a lifecycle program. The builder returns 0 or its failure code; the launcher replaces
/// this process and returns only on failure.
pub fn run(cmd: LifecycleCommand) -> ExitCode {
    match cmd {
        LifecycleCommand::Builder(args) => match builder::run(&args) {
            Ok(_) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{}: {err}", err.reason());
                ExitCode::from(err.exit_code())
            }
        },
        LifecycleCommand::Launcher(args) => {
            let err = launcher::exec(&args);
            eprintln!("launcher: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: LifecycleCommand,
    }

    fn parse(args: &[&str]) -> LifecycleCommand {
        Cli::try_parse_from(std::iter::once("lifecycle").chain(args.iter().copied()))
            .unwrap()
            .command
    }

    #[test]
    fn parses_the_stager_s_builder_invocation() {
        let args = [
            "builder",
            "--build-dir",
            "tmp/app",
            "--buildpack-order=a,b",
            "--skip-detect",
        ];
        let LifecycleCommand::Builder(args) = parse(&args) else {
            panic!("not the builder");
        };
        assert_eq!(args.build_dir, Path::new("tmp/app"));
        assert_eq!(args.buildpack_order, ["a", "b"]);
        assert!(args.skip_detect);
        assert_eq!(args.output_droplet, Path::new("/tmp/droplet"));
        assert_eq!(args.stack, "cflinuxfs4");
    }

    #[test]
    fn parses_the_launcher_s_positional_arguments() {
        let LifecycleCommand::Launcher(args) = parse(&["launcher", "app", "", "{}"]) else {
            panic!("not the launcher");
        };
        assert_eq!(args.app_dir, Path::new("app"));
        assert_eq!(args.start_command, "");
        assert_eq!(args.metadata.as_deref(), Some("{}"));
        // A start command may look like a flag.
        let LifecycleCommand::Launcher(args) = parse(&["launcher", ".", "-version"]) else {
            panic!("not the launcher");
        };
        assert_eq!(
            (args.start_command.as_str(), args.metadata),
            ("-version", None)
        );
    }
}
