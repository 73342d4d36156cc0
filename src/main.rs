use std::process::ExitCode;

use clap::{Parser, Subcommand};

use atencion::config::Settings;
use atencion::domain::Role;
use atencion::kpi::{KpiStore, Live};
use atencion::startup::{open_database, Application};
use atencion::{auth, directory, installation, seed, session, telemetry};

/// Helpdesk and contact center of ChileCompra's Departamento de Atención Usuaria.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server and the background jobs (applies pending migrations first).
    Serve {
        /// Only the HTTP server: the background jobs run in `atencion worker` processes.
        #[arg(long)]
        no_workers: bool,
    },
    /// Run the background jobs without the HTTP server (mail, SLA clocks, rotations, reports,
    /// trends, department delivery, notifications), until SIGTERM or SIGINT.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// People of the service.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
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
    /// Recompute the live KPIs in Redis from the database's event logs, recording whose they are
    /// (the service also does this at start when Redis holds none or another database's, and
    /// after Redis was unreachable).
    Rebuild,
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Set the password an agent signs in to the workspace with (read from standard input, or
    /// asked for without echo on a terminal). Ends the agent's sessions.
    Password {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new API token (shown only once) for the agent with EMAIL, or for a new user
    /// created with ROLE and NAME when there is none.
    Create {
        /// admin, supervisor, agent, department or integration; only to create a user (an
        /// existing agent with another role is refused, not changed).
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        /// The new user's name (required to create one).
        #[arg(long)]
        name: Option<String>,
        /// Identifies an existing agent, or is the new user's address.
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

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: no se pudo iniciar el runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Keeps the server's memory flat under load with glibc's allocator, before any thread starts.
/// Measured with `benches/accumulate.sh` and heaptrack: the live heap stayed under 40 MB while RSS
/// grew by over 1 KB per ticket created. The cause was the allocator keeping freed memory: one
/// arena per busy thread (up to 8 per core), and large temporary buffers (the report rollup's
/// rows) placed in the arenas once the adaptive mmap threshold had risen. Two arenas, and blocks
/// from 128 KiB always mapped apart and given back when freed.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load()?;
    telemetry::init(&settings.log);
    match cli.command {
        Command::Serve { no_workers } => {
            settings.server.background &= !no_workers;
            Application::build(settings).await?.run_until_stopped().await?
        }
        Command::Worker => atencion::startup::run_worker(settings).await?,
        Command::Migrate => {
            open_database(&settings).await?;
            println!("migraciones al día");
        }
        Command::Token { command: TokenCommand::Create { role, name, email, department } } => {
            let db = open_database(&settings).await?;
            let holder = directory::TokenHolder { email, role, name, department_id: department };
            let (agent, created, token) = db
                .write(move |c| {
                    let (agent, created) = directory::token_holder(c, holder)?;
                    let token = auth::issue_token(c, agent.id, &agent.name)?;
                    Ok((agent, created, token))
                })
                .await
                .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            // Only the token on stdout, so `TOKEN=$(atencion token create …)` keeps working.
            let whose = if created { "nuevo agente" } else { "agente existente" };
            eprintln!("token emitido para el {whose} {} «{}» (rol {})", agent.id, agent.name, agent.role.as_str());
            println!("{token}");
        }
        Command::Agent { command: AgentCommand::Password { email } } => {
            let password = read_password()?;
            atencion::domain::signin::check_password(&password).map_err(|m| anyhow::anyhow!("la contraseña {m}"))?;
            let hash = session::hash_password(&password).map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            let db = open_database(&settings).await?;
            let name = db
                .write(move |c| {
                    let account = session::account(c, &email)?;
                    let (id, _) =
                        account.agent.ok_or(atencion::error::AppError::NotFound("un agente activo con ese correo"))?;
                    session::set_password(c, id, &hash, chrono::Utc::now())?;
                    Ok(directory::get_agent(c, id)?.name)
                })
                .await
                .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            println!("contraseña de {name} actualizada; sus sesiones abiertas terminaron");
        }
        Command::SeedDemo { tickets } => {
            let db = open_database(&settings).await?;
            let created =
                db.write(move |c| seed::load(c, tickets)).await.map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            if created == 0 {
                println!("la demo ya estaba cargada");
                return Ok(());
            }
            println!("demo cargada: {created} tickets");
            // One random password for the demo's people, shown only now.
            let password = auth::generate_token()[auth::TOKEN_PREFIX.len()..][..16].to_owned();
            let hash = session::hash_password(&password).map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            db.write(move |c| {
                for email in seed::demo_emails() {
                    if let Some((id, _)) = session::account(c, email)?.agent {
                        session::set_password(c, id, &hash, chrono::Utc::now())?;
                    }
                }
                Ok(())
            })
            .await
            .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            let url = atencion::startup::public_url(&settings.server, settings.server.port);
            println!("ingrese en {url}/app con uno de estos correos y la contraseña {password}");
            for email in seed::demo_emails() {
                println!("  {email}");
            }
        }
        Command::Kpi { command: KpiCommand::Rebuild } => {
            let Some(url) = settings.redis_url() else {
                println!("sin Redis configurado: los KPI en vivo se reconstruyen solos al iniciar el servicio");
                return Ok(());
            };
            let db = open_database(&settings).await?;
            let installation = installation::load(&db).await.map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
            let store = KpiStore::redis(redis::Client::open(url)?, &settings.redis.key_prefix);
            let (target, level) = (settings.kpi.answer_target_secs, settings.kpi.service_level_target);
            let live = Live::new(store, installation.id, target, level);
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

/// A password from standard input: asked for without echo on a terminal, else its first line.
fn read_password() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        return Ok(rpassword::prompt_password("Contraseña nueva: ")?);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
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
