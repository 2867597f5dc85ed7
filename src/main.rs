fn main() -> std::process::ExitCode {
    imgbatch::cli::run()
}
