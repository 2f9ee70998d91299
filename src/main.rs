fn main() {
    if let Some(code) = skiff::helper::dispatch() {
        std::process::exit(code);
    }
    std::process::exit(skiff::cli::main());
}
