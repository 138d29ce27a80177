//! `hilink-sim`: a simulated Huawei HiLink modem (arrives with the [hilink] issue).

fn main() {
    eprintln!("hilink-sim: the simulator is not built yet");
    std::process::exit(2);
}
