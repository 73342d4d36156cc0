//! Helpers the benchmark programs share (`mod common;`); each program uses a part of them.
#![allow(dead_code)]

use anyhow::{Context, Result};

/// Nearest-rank percentile `p` (0–100) of sorted values; NaN (`null` in JSON) for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `x` rounded to `places` decimals, for reports meant to be read.
pub fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

/// A process's resident memory now and at its peak, in kB (`VmRSS`, `VmHWM` of /proc/PID/status).
pub fn memory_kb(pid: u32) -> Result<(u64, u64)> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status.lines().find(|l| l.starts_with(name)).with_context(|| format!("{name} missing in {path}"))?;
        let kb = line[name.len()..].trim().trim_end_matches("kB").trim();
        kb.parse().with_context(|| format!("parsing {name} {kb:?}"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}
