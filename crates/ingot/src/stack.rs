//! `ingot stack build` and `ingot stack list`: the root file systems containers run on.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ingot::config::{Config, ConfigFile, DEFAULT_STACK, Overrides, ProcessEnv};
use ingot_stack::{BuildOptions, BuiltStack, Progress, StackChoice};

#[derive(Subcommand)]
pub enum StackCommand {
    /// Build a Debian 12 (bookworm) root file system for app containers with debootstrap
    /// (needs root). A stack already built with the same packages is left as it is.
    Build(BuildArgs),
    /// List the stacks, and which one answers to cflinuxfs4.
    List(DataDirArgs),
}

#[derive(Args)]
pub struct DataDirArgs {
    /// TOML config file; only its data_dir is used.
    #[arg(long, env = "INGOT_CONFIG")]
    config: Option<PathBuf>,
    /// Where Ingot keeps its data; stacks go to <data dir>/stacks.
    #[arg(long, env = "INGOT_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

impl DataDirArgs {
    /// The data directory `ingot up` would use with the same flags and environment.
    fn resolve(self) -> anyhow::Result<PathBuf> {
        let file = match &self.config {
            Some(path) => ConfigFile::read(path)?,
            None => ConfigFile::default(),
        };
        let overrides = Overrides {
            data_dir: self.data_dir,
            ..Overrides::default()
        };
        Ok(Config::resolve(file, overrides, &ProcessEnv)?.data_dir)
    }
}

#[derive(Args)]
pub struct BuildArgs {
    #[command(flatten)]
    dirs: DataDirArgs,
    /// The stack's name; the `bookworm` stack answers to cflinuxfs4.
    #[arg(long, default_value = ingot_stack::DEFAULT_NAME)]
    name: String,
    /// Debian mirror URL; by default the one the host's apt uses for its own suite.
    #[arg(long)]
    mirror: Option<String>,
    /// Rebuild even if the stack is already built (downloaded packages are reused).
    #[arg(long)]
    force: bool,
}

pub async fn run(command: StackCommand) -> anyhow::Result<()> {
    match command {
        StackCommand::Build(args) => {
            let options = BuildOptions {
                name: args.name,
                mirror: args.mirror,
                force: args.force,
                ..BuildOptions::new(args.dirs.resolve()?)
            };
            let outcome = ingot_stack::build(&options, &mut |progress| match progress {
                Progress::Step(step) => println!("-----> {step}"),
                Progress::Output(line) => println!("       {line}"),
            })
            .await?;
            if outcome.reused {
                println!("       (ingot stack build --force rebuilds it)");
            }
        }
        StackCommand::List(dirs) => {
            let data_dir = dirs.resolve()?;
            let default = ingot_stack::default_stack(&data_dir);
            let answers = |name: &str| {
                if default.name() == name {
                    format!("  (answers to {DEFAULT_STACK})")
                } else {
                    String::new()
                }
            };
            for stack in ingot_stack::list(&data_dir) {
                println!("{}{}", stack.name, answers(&stack.name));
                println!("  {}", stack.description);
                println!("  {}", details(&stack));
            }
            let host = StackChoice::Host;
            println!("{}{}", host.name(), answers(host.name()));
            println!("  {}", host.description());
        }
    }
    Ok(())
}

/// Where it is, how big, what it carries and when it was built.
fn details(stack: &BuiltStack) -> String {
    format!(
        "{}: {:.1} GB, {} packages beyond the minimal base, built {}",
        stack.rootfs.display(),
        stack.size_bytes as f64 / 1e9,
        stack.packages.len(),
        stack.built_at.format("%Y-%m-%d %H:%M UTC")
    )
}
