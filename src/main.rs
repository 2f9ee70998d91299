//! The skiff binary: skiff's own helper processes first (`helper`), then the command line.

fn main() {
    if let Some(code) = skiff::helper::dispatch() {
        std::process::exit(code);
    }
    std::process::exit(skiff::cli::main());
}
