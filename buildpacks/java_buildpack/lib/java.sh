# Java helpers shared by the buildpack's scripts.

# The value of attribute $2 in manifest file $1 ("-": stdin; handles continuation lines and CRLF).
manifest_attr() {
  [ "$1" = - ] || [ -f "$1" ] || return 0
  awk -v key="$2" '
    { sub(/\r$/, "") }
    /^ / { if (found && !done) val = val substr($0, 2); next }
    { if (found) done = 1
      i = index($0, ":")
      if (!done && i > 0 && tolower(substr($0, 1, i - 1)) == tolower(key)) {
        found = 1; val = substr($0, i + 1); sub(/^ /, "", val)
      } }
    END { print val }' "$1"
}

# Prints the manifest of jar $1 (empty when it has none).
jar_manifest() {
  if command -v unzip >/dev/null; then
    unzip -p "$1" META-INF/MANIFEST.MF 2>/dev/null || true
  elif command -v python3 >/dev/null; then
    python3 - "$1" <<'PY' 2>/dev/null || true
import sys, zipfile
try:
    with zipfile.ZipFile(sys.argv[1]) as z:
        sys.stdout.write(z.read("META-INF/MANIFEST.MF").decode("utf-8", "replace"))
except (KeyError, zipfile.BadZipFile, OSError):
    pass
PY
  elif command -v jar >/dev/null; then
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && jar xf "$1" META-INF/MANIFEST.MF 2>/dev/null && cat META-INF/MANIFEST.MF) || true
    rm -rf "$tmp"
  fi
}

# How many .class entries jar $1 holds.
jar_class_count() {
  if command -v unzip >/dev/null; then
    unzip -Z1 "$1" 2>/dev/null | grep -c '\.class$' || true
  elif command -v python3 >/dev/null; then
    python3 -c '
import sys, zipfile
try:
    print(sum(n.endswith(".class") for n in zipfile.ZipFile(sys.argv[1]).namelist()))
except (zipfile.BadZipFile, OSError):
    print(0)' "$1"
  elif command -v jar >/dev/null; then
    jar tf "$1" 2>/dev/null | grep -c '\.class$' || true
  else
    echo 0
  fi
}

# The top-level jar whose manifest names a Main-Class, or nothing.
executable_jar() {
  local jar
  shopt -s nullglob
  for jar in "$1"/*.jar; do
    if [ -n "$(jar_manifest "$jar" | manifest_attr - Main-Class)" ]; then
      echo "$jar"
      return 0
    fi
  done
  return 0
}

# Whether the app looks like a web archive (a .war, or an unpacked one).
is_war() {
  shopt -s nullglob
  local wars=("$1"/*.war)
  [ -d "$1/WEB-INF" ] || [ ${#wars[@]} -gt 0 ]
}

# $1 quoted for a double-quoted shell word.
shell_dq() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//\$/\\\$}
  s=${s//\`/\\\`}
  printf '%s' "$s"
}
