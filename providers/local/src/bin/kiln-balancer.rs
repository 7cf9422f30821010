//! A stand-alone balancer process, for tests and for setups without the
//! `kiln` binary: `kiln-balancer <state-dir>`. It runs the same entry point
//! as `kiln __balancer`.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    kiln_provider_local::balancer::balancer_main(&args)
}
