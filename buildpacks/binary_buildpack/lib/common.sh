# Helpers shared by this buildpack's scripts (each buildpack carries its own copy so that it
# stays a self-contained buildpack directory).

step() { echo "-----> $*"; }
info() { echo "       $*"; }
warn() { echo "       WARNING: $*" >&2; }
fail() {
  echo " !     $*" >&2
  exit 1
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
write_deps_config() { # write_deps_config DEPS_DIR DEPS_IDX NAME VERSION
  mkdir -p "$1/$2"
  printf -- '---\nname: %s\nversion: %s\n' "$3" "$4" >"$1/$2/config.yml"
}
