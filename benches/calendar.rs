//! Micro-benchmark of the SLA business calendar: `cargo bench --bench calendar` (release, no criterion).
//! Prints ns/op per scenario and a final `RESULT {json}` line for scripts.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use atencion::domain::calendar::{parse_holidays_csv, BusinessCalendar};
use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};

const N: usize = 200_000;
/// Budget for a one-week deadline (issue requirement).
const TARGET_NS: f64 = 5_000.0;

fn load_holidays() -> Vec<NaiveDate> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/chile_holidays.csv");
    let parsed = std::fs::read_to_string(&path)
        .map_err(|err| err.to_string())
        .and_then(|text| parse_holidays_csv(&text).map_err(|err| err.to_string()));
    match parsed {
        Ok(holidays) => holidays.into_iter().map(|(date, _)| date).collect(),
        Err(err) => {
            eprintln!("warning: no holidays loaded from {}: {err}", path.display());
            Vec::new()
        }
    }
}

/// Pseudo-random instants over 2025–2034 (inside the holiday file's range), any second of the week.
fn starts() -> Vec<DateTime<Utc>> {
    let base = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    let span = 10 * 365 * 86_400_u64;
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..N)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            base + TimeDelta::seconds(((state >> 33) % span) as i64)
        })
        .collect()
}

/// Mean ns per call of `op` over all starts, after one warm-up pass.
fn time_per_op(starts: &[DateTime<Utc>], mut op: impl FnMut(DateTime<Utc>) -> i64) -> f64 {
    let mut checksum = 0_i64;
    for &start in starts.iter().take(N / 10) {
        checksum = checksum.wrapping_add(op(black_box(start)));
    }
    let began = Instant::now();
    for &start in starts {
        checksum = checksum.wrapping_add(op(black_box(start)));
    }
    let elapsed = began.elapsed();
    black_box(checksum);
    elapsed.as_nanos() as f64 / starts.len() as f64
}

fn main() {
    let holidays = load_holidays();
    let holiday_count = holidays.len();
    let calendar = BusinessCalendar::office_hours_santiago(holidays);
    let starts = starts();

    let deadline = |minutes: i64| {
        let calendar = &calendar;
        move |start: DateTime<Utc>| {
            calendar.add_business_minutes(start, black_box(minutes)).map_or(0, |deadline| deadline.timestamp())
        }
    };
    let week_ns = time_per_op(&starts, deadline(2_700));
    let day_ns = time_per_op(&starts, deadline(540));
    let month_ns = time_per_op(&starts, deadline(11_880));
    let between_ns =
        time_per_op(&starts, |start| calendar.business_minutes_between(start, black_box(start + TimeDelta::weeks(1))));

    println!("calendar bench: America/Santiago Mon–Fri 09:00–18:00, {holiday_count} holidays, N = {N}");
    println!("add_business_minutes 1 day   (540 min):    {day_ns:>8.1} ns/op");
    println!("add_business_minutes 1 week  (2700 min):   {week_ns:>8.1} ns/op");
    println!("add_business_minutes 1 month (11880 min):  {month_ns:>8.1} ns/op");
    println!("business_minutes_between 1 week span:      {between_ns:>8.1} ns/op");
    let pass = week_ns <= TARGET_NS;
    println!("1-week deadline target {TARGET_NS} ns: {}", if pass { "ok" } else { "MISSED" });
    println!(
        "RESULT {{\"bench\":\"calendar\",\"n\":{N},\"holidays\":{holiday_count},\"add_1_day_ns\":{day_ns:.1},\
         \"add_1_week_ns\":{week_ns:.1},\"add_1_month_ns\":{month_ns:.1},\"between_1_week_ns\":{between_ns:.1},\
         \"target_1_week_ns\":{TARGET_NS},\"pass\":{pass}}}"
    );
}
