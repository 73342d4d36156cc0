use std::process::ExitCode;

use clap::{Parser, Subcommand};

use atencion::config::Settings;
use atencion::domain::Role;
use atencion::kpi::{KpiStore, Live};
use atencion::startup::{open_database, Application};
use atencion::{auth, directory, seed, telemetry};

/// Helpdesk and contact center of ChileCompra's Departamento de Atención Usuaria.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Load a demo: queues, agents, requesters of the three segments and ~200 tickets.
    SeedDemo {
        #[arg(long, default_value_t = 200)]
        tickets: usize,
    },
    /// Live KPIs.
    Kpi {
        #[command(subcommand)]
        command: KpiCommand,
    },
    /// Historical reports.
    Reports {
        #[command(subcommand)]
        command: ReportsCommand,
    },
}

#[derive(Subcommand)]
enum ReportsCommand {
    /// Recompute the daily rollup the reports read from the database (the service keeps it up
    /// to date by itself; this is for after restoring or editing data by hand).
    Rebuild,
}

#[derive(Subcommand)]
enum KpiCommand {
    /// Recompute the live KPIs in Redis from the database's event logs (the service also does
    /// this at start when Redis holds none, and after Redis was unreachable).
    Rebuild,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a user with ROLE and print a new API token for it (shown only once).
    Create {
        /// admin, supervisor, agent, department or integration.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// Department id, required for the `department` role.
        #[arg(long)]
        department: Option<i64>,
    },
}

fn parse_role(value: &str) -> Result<Role, String> {
    value.parse().map_err(|e: atencion::domain::UnknownValue| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    telemetry::init(&settings.log);
    match cli.command {
        Command::Serve => Application::build(settings).await?.run_until_stopped().await?,
        Command::Migrate => {
            open_database(&settings).await?;
            println!("migraciones al día");
        }
        Command::Token { command: TokenCommand::Create { role, name, email, department } } => {
            let db = open_database(&settings).await?;
            let token = db
                .write(move |c| {
                    let request = directory::CreateAgentRequest {
                        name: name.clone(),
                        email,
                        role,
                        department_id: department,
                        extension: None,
                    };
                    let agent = directory::create_agent(c, request)?;
                    auth::issue_token(c, agent.id, &name)
                })
                .await
                .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            println!("{token}");
        }
        Command::SeedDemo { tickets } => {
            let db = open_database(&settings).await?;
            let created =
                db.write(move |c| seed::load(c, tickets)).await.map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            if created == 0 {
                println!("la demo ya estaba cargada");
            } else {
                println!("demo cargada: {created} tickets");
            }
        }
        Command::Kpi { command: KpiCommand::Rebuild } => {
            let Some(url) = settings.redis_url() else {
                println!("sin Redis configurado: los KPI en vivo se reconstruyen solos al iniciar el servicio");
                return Ok(());
            };
            let db = open_database(&settings).await?;
            let store = KpiStore::redis(redis::Client::open(url)?, &settings.redis.key_prefix);
            let live = Live::new(store, settings.kpi.answer_target_secs, settings.kpi.service_level_target);
            live.rebuild(&db).await.map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            let figures = live.realtime(atencion::domain::live::Window::Today).await;
            let all = figures.scopes.iter().find(|s| s.scope == "all");
            println!(
                "KPI en vivo reconstruidos: {} tickets abiertos, {} creados hoy",
                all.map_or(0, |s| s.backlog_total),
                all.map_or(0, |s| s.window.created)
            );
        }
        Command::Reports { command: ReportsCommand::Rebuild } => {
            let db = open_database(&settings).await?;
            let days = db
                .write(|c| {
                    atencion::reports::rollup::reset(c)?;
                    atencion::reports::rollup::refresh(c)
                })
                .await
                .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            println!("resumen diario de los informes reconstruido: {days} días");
        }
    }
    Ok(())
}

/// Field errors are useful on the command line too.
fn describe(e: &atencion::error::AppError) -> String {
    let problem = e.problem();
    let fields: Vec<String> = problem.errors.iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
    match (problem.detail, fields.is_empty()) {
        (_, false) => format!("{} ({})", problem.title, fields.join("; ")),
        (Some(detail), true) => format!("{}: {detail}", problem.title),
        (None, true) => format!("{e:#}"),
    }
}
