//! `smsgw-broker`: parses the command line and hands over to the library.

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = smsgw_broker::cli::Cli::parse();
    smsgw_broker::telemetry::init(cli.log_format);
    smsgw_broker::cli::execute(cli.command).await?;
    Ok(())
}
