# Helpers shared by every built-in buildpack's scripts. This file is kept once, as
# buildpacks/lib/common.sh; each buildpack gets it as its own lib/common.sh when it is zipped
# (crates/ingot/build.rs), so a buildpack stays a self-contained directory. Source it first:
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

# The buildpack's directory (this file is its lib/common.sh) and version.
bp_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bp_version=$(cat "$bp_dir/VERSION")

step() { echo "-----> $*"; }
info() { echo "       $*"; }
warn() { echo "       WARNING: $*" >&2; }
fail() {
  echo " !     $*" >&2
  exit 1
}

# bin/detect's success: prints "NAME VERSION" and exits 0.
detected() { # detected NAME
  echo "$1 $bp_version"
  exit 0
}

# Fails with the usage line unless bin/supply or bin/finalize got its four arguments.
check_args() { # check_args "$@"
  [ $# -ge 4 ] && return 0
  case ${0##*/} in
    supply) fail "usage: bin/supply BUILD_DIR CACHE_DIR DEPS_DIR DEPS_IDX" ;;
    *) fail "usage: bin/finalize BUILD_DIR CACHE_DIR DEPS_DIR DEPS_IDX [PROFILE_DIR]" ;;
  esac
}

# The path of the stack's command $1; fails when the stack does not have it.
stack_tool() { # stack_tool COMMAND
  command -v "$1" || fail "$1 is not installed on this stack"
}

# Fails when the app asks for another major or minor version of TOOL than the stack's HAVE;
# warns when only the patch level differs (the stack has one version of each tool).
check_stack_version() { # check_stack_version WHERE TOOL WANTED HAVE
  local where=$1 tool=$2 wanted=$3 have=$4 w_major w_minor w_patch s_major s_minor s_patch
  IFS=. read -r w_major w_minor w_patch <<<"$wanted"
  IFS=. read -r s_major s_minor s_patch <<<"$have"
  if [ "$w_major" != "$s_major" ] || { [ -n "${w_minor:-}" ] && [ "$w_minor" != "$s_minor" ]; }; then
    fail "$where asks for $tool $wanted but this stack provides only $tool $have"
  fi
  if [ -n "${w_patch:-}" ] && [ "$w_patch" != "${s_patch:-}" ]; then
    warn "$where asks for $tool $wanted; using the stack's $tool $have"
  fi
}

# Runs COMMAND in DIR with its output indented under the current step and copied to LOG (for
# naming what failed); returns COMMAND's status.
run_logged() { # run_logged LOG DIR COMMAND...
  local log=$1 dir=$2
  shift 2
  (cd "$dir" && "$@") 2>&1 | tee "$log" | sed -u 's/^/       /'
}

# The `web:` command of the app's Procfile, or nothing.
procfile_web() {
  local procfile="$1/Procfile"
  [ -f "$procfile" ] || return 0
  sed -n -e 's/\r$//' -e 's/^web:[[:space:]]*//p' "$procfile" | head -n 1
}

# A YAML scalar for $1: plain when that is unambiguous, double-quoted otherwise.
yaml_scalar() {
  local s=$1
  if [[ -z $s || $s =~ ^[][{}\&*!\|\>\'\"%@\`#,?:-] || $s =~ ^[[:space:]] || $s =~ [[:space:]]$ \
    || $s == *': '* || $s == *' #'* || $s == *: || $s == *$'\t'* ]]; then
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\t'/\\t}
    printf '"%s"' "$s"
  else
    printf '%s' "$s"
  fi
}

# The release YAML with $1 as the web command (no process types when $1 is empty).
release_yaml() {
  if [ -n "$1" ]; then
    printf -- '---\ndefault_process_types:\n  web: %s\n' "$(yaml_scalar "$1")"
  else
    printf -- '---\ndefault_process_types: {}\n'
  fi
}

# The absolute path of directory $1, created if missing (buildpack arguments may be relative).
abs_dir() {
  mkdir -p "$1" && (cd "$1" && pwd -P)
}

# Records the buildpack's name and version in DEPS_DIR/DEPS_IDX/config.yml, where the builder
# reads them for the staging result (detected_buildpack, buildpacks).
write_deps_config() { # write_deps_config DEPS_DIR DEPS_IDX NAME
  mkdir -p "$1/$2"
  printf -- '---\nname: %s\nversion: %s\n' "$3" "$bp_version" >"$1/$2/config.yml"
}
