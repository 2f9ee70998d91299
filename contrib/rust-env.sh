# Sourced by setup.sh and test.sh: finds cargo (rustup puts it in ~/.cargo/bin, which a
# non-login root shell may not have on its PATH) or says what is missing.
if ! command -v cargo >/dev/null; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || { echo "cargo (Rust >= 1.89, via rustup) is needed" >&2; exit 1; }
