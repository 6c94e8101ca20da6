# Go helpers shared by bin/finalize and bin/release.

# The main module's path from BUILD_DIR/go.mod, or nothing.
go_module_path() {
  [ -f "$1/go.mod" ] || return 0
  sed -n -e 's/\r$//' -e 's#//.*$##' -e 's/^[[:space:]]*module[[:space:]]\{1,\}//p' "$1/go.mod" \
    | tr -d '"`' | awk 'NF { print $1; exit }'
}

# The `go` directive of BUILD_DIR/go.mod (e.g. 1.19), or nothing.
go_mod_version() {
  [ -f "$1/go.mod" ] || return 0
  sed -n -e 's/\r$//' -e 's/^[[:space:]]*go[[:space:]]\{1,\}\([0-9][0-9.]*\).*/\1/p' "$1/go.mod" | head -n 1
}

# The name `go build` gives the binary of import path $1 (its last element, skipping a /vN
# major-version suffix).
go_binary_name() {
  local path=${1%/} last
  last=${path##*/}
  if [[ $last =~ ^v[0-9]+$ ]] && [[ $path == */* ]]; then
    path=${path%/*}
    last=${path##*/}
  fi
  echo "$last"
}

# The package specs to build: GO_INSTALL_PACKAGE_SPEC (space-separated), default ".".
go_package_specs() {
  echo "${GO_INSTALL_PACKAGE_SPEC:-.}"
}

# The binary the web process runs, relative to the app: bin/<name>.
go_web_binary() {
  local build_dir=$1 module spec
  module=$(go_module_path "$build_dir")
  read -r spec _ <<<"$(go_package_specs)"
  if [ -z "$module" ]; then
    echo "bin/app"
  elif [ "$spec" = . ] || [ "$spec" = ./ ]; then
    echo "bin/$(go_binary_name "$module")"
  else
    echo "bin/$(go_binary_name "$spec")"
  fi
}
