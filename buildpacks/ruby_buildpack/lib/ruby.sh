# Ruby helpers shared by the buildpack's scripts.

# How many gems BUILD_DIR/Gemfile asks for (gem and gemspec lines).
gemfile_gem_count() {
  [ -f "$1/Gemfile" ] || { echo 0; return; }
  grep -cE '^[[:space:]]*(gem|gemspec)([[:space:]]|\(|$)' "$1/Gemfile" || true
}

# Whether the locked gems provide the rackup command (rack < 3 has it, rack 3 needs rackup).
rackup_available() {
  local lock="$1/Gemfile.lock"
  [ -f "$lock" ] || return 1
  grep -qE '^    rackup \(' "$lock" && return 0
  grep -qE '^    rack \([0-2]\.' "$lock"
}
