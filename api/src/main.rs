//! `smsgw-api`: parses the command line and hands over to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = smsgw_api::config::Cli::parse();
    smsgw_api::telemetry::init(cli.log_format);
    smsgw_api::commands::run(cli.command).await?;
    Ok(())
}
