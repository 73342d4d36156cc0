//! Business calendar for SLA deadlines: weekly opening windows in an IANA time zone, minus holidays.
//!
//! Everything outside this module deals in `DateTime<Utc>`; local wall-clock time only exists here.
//! DST rule for window boundaries: a local time that does not exist maps to the instant the clocks
//! jump to; an ambiguous one maps to the earliest instant for a window start and the latest for a
//! window end, so an office open through a repeated hour counts it twice.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Bound::{Excluded, Included};

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Timelike,
    Utc, Weekday,
};
use chrono_tz::{GapInfo, Tz};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Time zone of ChileCompra's offices.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::America::Santiago;

/// Minutes in a civil day; as a window end it means 24:00.
pub const MINUTES_PER_DAY: u16 = 1440;

/// Searches for an opening give up after this many local days (20 years), so a calendar whose
/// windows all fall on holidays cannot loop for ever.
pub const SEARCH_HORIZON_DAYS: u64 = 20 * 366;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("ventana horaria inválida el {weekday}: {window} (se requiere inicio < término ≤ 24:00)")]
    InvalidWindow { weekday: &'static str, window: Window },
    #[error("las ventanas horarias del {weekday} deben estar ordenadas y sin traslaparse")]
    OverlappingWindows { weekday: &'static str },
    #[error("hora inválida `{0}`: se esperan minutos exactos entre 00:00 y 24:00")]
    InvalidTime(String),
    #[error("zona horaria desconocida: `{0}`")]
    UnknownTimeZone(String),
    #[error("CSV de feriados, línea {line}: {reason}")]
    Csv { line: usize, reason: String },
}

/// An opening window in local time, `[start, end)` in minutes after local midnight.
/// Serialized as `{"start": "09:00", "end": "18:00"}`; `end` may be `"24:00"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// 0..1440.
    #[serde(with = "hhmm")]
    #[schema(value_type = String, example = "09:00")]
    pub start: u16,
    /// 1..=1440, where 1440 is 24:00 (midnight at the end of the day).
    #[serde(with = "hhmm")]
    #[schema(value_type = String, example = "18:00")]
    pub end: u16,
}

impl Window {
    pub const ALL_DAY: Window = Window { start: 0, end: MINUTES_PER_DAY };

    /// `end == None` means 24:00. Times must be whole minutes.
    pub fn new(start: NaiveTime, end: Option<NaiveTime>) -> Result<Self, CalendarError> {
        let end = match end {
            Some(end) => minute_of_day(end)?,
            None => MINUTES_PER_DAY,
        };
        Self::from_minutes(minute_of_day(start)?, end)
    }

    pub fn from_minutes(start: u16, end: u16) -> Result<Self, CalendarError> {
        let window = Window { start, end };
        if window.is_valid() {
            Ok(window)
        } else {
            Err(CalendarError::InvalidTime(window.to_string()))
        }
    }

    /// `"09:00"`, `"24:00"` → minutes after midnight.
    pub fn parse_time(text: &str) -> Result<u16, CalendarError> {
        parse_hhmm(text).ok_or_else(|| CalendarError::InvalidTime(text.to_owned()))
    }

    fn is_valid(self) -> bool {
        self.start < self.end && self.end <= MINUTES_PER_DAY
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", Hhmm(self.start), Hhmm(self.end))
    }
}

struct Hhmm(u16);

impl fmt::Display for Hhmm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

fn minute_of_day(time: NaiveTime) -> Result<u16, CalendarError> {
    if time.second() != 0 || time.nanosecond() != 0 {
        return Err(CalendarError::InvalidTime(time.to_string()));
    }
    // At most 1439, fits in u16.
    Ok((time.hour() * 60 + time.minute()) as u16)
}

fn parse_hhmm(text: &str) -> Option<u16> {
    let (hours, minutes) = text.trim().split_once(':')?;
    if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
        return None;
    }
    if !hours.bytes().chain(minutes.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    let total = hours * 60 + minutes;
    (minutes < 60 && total <= MINUTES_PER_DAY).then_some(total)
}

mod hhmm {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(minutes: &u16, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&super::Hhmm(*minutes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        super::parse_hhmm(&text).ok_or_else(|| D::Error::custom(format!("hora inválida `{text}`, se espera HH:MM")))
    }
}

const WEEKDAY_NAMES: [&str; 7] = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"];

/// Serializable description of a [`BusinessCalendar`] (configuration files, admin API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CalendarSpec {
    /// IANA name, e.g. `America/Santiago` (the default) or `America/Punta_Arenas`.
    #[serde(default = "default_time_zone_name")]
    pub time_zone: String,
    /// Seven lists of windows, Monday first.
    #[schema(value_type = Vec<Vec<Window>>)]
    pub week: [Vec<Window>; 7],
    /// Local dates on which the calendar is closed all day.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

fn default_time_zone_name() -> String {
    DEFAULT_TIME_ZONE.name().to_owned()
}

/// Opening hours of a team: when SLA clocks run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CalendarSpec", into = "CalendarSpec")]
pub struct BusinessCalendar {
    tz: Tz,
    /// Monday first; each day's windows sorted and disjoint (validated in `new`).
    week: [Vec<Window>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl BusinessCalendar {
    /// Fails if a day's windows are empty (`start >= end`), end after 24:00, unsorted or overlapping.
    /// Touching windows (`09:00–13:00`, `13:00–18:00`) are allowed.
    pub fn new(
        tz: Tz,
        week: [Vec<Window>; 7],
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, CalendarError> {
        for (day, windows) in week.iter().enumerate() {
            let weekday = WEEKDAY_NAMES[day];
            if let Some(&window) = windows.iter().find(|w| !w.is_valid()) {
                return Err(CalendarError::InvalidWindow { weekday, window });
            }
            if windows.windows(2).any(|pair| pair[0].end > pair[1].start) {
                return Err(CalendarError::OverlappingWindows { weekday });
            }
        }
        Ok(BusinessCalendar { tz, week, holidays: holidays.into_iter().collect() })
    }

    /// Monday–Friday 09:00–18:00 in America/Santiago.
    pub fn office_hours_santiago(holidays: impl IntoIterator<Item = NaiveDate>) -> Self {
        let day = vec![Window { start: 9 * 60, end: 18 * 60 }];
        let week = [day.clone(), day.clone(), day.clone(), day.clone(), day, Vec::new(), Vec::new()];
        BusinessCalendar { tz: DEFAULT_TIME_ZONE, week, holidays: holidays.into_iter().collect() }
    }

    /// 24×7 in UTC, for targets measured in calendar hours.
    pub fn always_open() -> Self {
        Self::always_open_in(Tz::UTC)
    }

    /// 24×7 in local time: differs from [`Self::always_open`] only on DST nights.
    pub fn always_open_in(tz: Tz) -> Self {
        BusinessCalendar { tz, week: std::array::from_fn(|_| vec![Window::ALL_DAY]), holidays: BTreeSet::new() }
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    pub fn windows(&self, weekday: Weekday) -> &[Window] {
        &self.week[weekday.num_days_from_monday() as usize]
    }

    pub fn holidays(&self) -> &BTreeSet<NaiveDate> {
        &self.holidays
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.contains(&date)
    }

    fn has_windows(&self) -> bool {
        self.week.iter().any(|day| !day.is_empty())
    }

    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let date = self.local_date(at);
        // The previous day's window may end after `at` when its 24:00 is ambiguous.
        let first = date.pred_opt().unwrap_or(date);
        let last = date.succ_opt().unwrap_or(date);
        for (open, close) in self.intervals(first, last) {
            if open > at {
                return false;
            }
            if at < close {
                return true;
            }
        }
        false
    }

    /// The earliest instant `>= at` at which the calendar is open: `at` itself when open.
    /// `None` if the calendar has no windows or none opens within [`SEARCH_HORIZON_DAYS`].
    pub fn next_opening(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.has_windows() {
            return None;
        }
        let (first, last) = self.search_range(at);
        self.intervals(first, last).find(|&(_, close)| close > at).map(|(open, _)| open.max(at))
    }

    /// The instant at which `minutes` business minutes have elapsed since `start`; counting starts at
    /// the next opening when `start` is closed. For `minutes > 0` the result may be the closing
    /// instant of the window where the count runs out (never the next opening). `minutes <= 0`
    /// returns [`Self::next_opening`]. `None` when the calendar has no windows or the deadline lies
    /// beyond [`SEARCH_HORIZON_DAYS`].
    ///
    /// Cost is proportional to the days and windows crossed, not to the minutes.
    pub fn add_business_minutes(&self, start: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
        self.add_business_time(start, TimeDelta::try_minutes(minutes.max(0))?)
    }

    /// Like [`Self::add_business_minutes`] with sub-minute precision (e.g. a paused SLA's remainder).
    pub fn add_business_time(&self, start: DateTime<Utc>, amount: TimeDelta) -> Option<DateTime<Utc>> {
        if amount <= TimeDelta::zero() {
            return self.next_opening(start);
        }
        if !self.has_windows() {
            return None;
        }
        let mut remaining = amount;
        let (first, last) = self.search_range(start);
        for (open, close) in self.intervals(first, last) {
            if close <= start {
                continue;
            }
            let open = open.max(start);
            let available = close - open;
            if remaining <= available {
                return Some(open + remaining);
            }
            remaining -= available;
        }
        None
    }

    /// Open time in `[from, to)`, in whole seconds (truncated); 0 if `to <= from`.
    pub fn business_seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.business_time_between(from, to).num_seconds()
    }

    /// Whole business minutes in `[from, to)` (floor of the seconds / 60).
    pub fn business_minutes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.business_seconds_between(from, to) / 60
    }

    /// Exact open time in `[from, to)`; zero if `to <= from`.
    pub fn business_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        let mut total = TimeDelta::zero();
        if to <= from || !self.has_windows() {
            return total;
        }
        let first = self.local_date(from);
        let first = first.pred_opt().unwrap_or(first);
        let last = self.local_date(to);
        let last = last.succ_opt().unwrap_or(last);
        for (open, close) in self.intervals(first, last) {
            if open >= to {
                break;
            }
            if close > from {
                total += close.min(to) - open.max(from);
            }
        }
        total
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        let utc = at.naive_utc();
        let offset = self.tz.offset_from_utc_datetime(&utc).fix().local_minus_utc();
        // Near chrono's range limits the local date may not exist; the UTC date is close enough there.
        utc.checked_add_signed(TimeDelta::seconds(offset.into())).map_or(utc.date(), |local| local.date())
    }

    /// Local dates to scan from `at`: the day before (see `is_open`) up to the horizon.
    fn search_range(&self, at: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
        let date = self.local_date(at);
        let last = date.checked_add_days(Days::new(SEARCH_HORIZON_DAYS)).unwrap_or(NaiveDate::MAX);
        (date.pred_opt().unwrap_or(date), last)
    }

    fn intervals(&self, first: NaiveDate, last: NaiveDate) -> OpenIntervals<'_> {
        OpenIntervals {
            calendar: self,
            date: first,
            weekday: first.weekday().num_days_from_monday() as usize,
            slot: 0,
            last,
            done: false,
            next_holiday: self.holidays.range(first..).next().copied(),
            last_close: None,
        }
    }
}

impl TryFrom<CalendarSpec> for BusinessCalendar {
    type Error = CalendarError;

    fn try_from(spec: CalendarSpec) -> Result<Self, CalendarError> {
        let tz: Tz = spec.time_zone.parse().map_err(|_| CalendarError::UnknownTimeZone(spec.time_zone.clone()))?;
        BusinessCalendar::new(tz, spec.week, spec.holidays)
    }
}

impl From<BusinessCalendar> for CalendarSpec {
    fn from(calendar: BusinessCalendar) -> Self {
        CalendarSpec {
            time_zone: calendar.tz.name().to_owned(),
            week: calendar.week,
            holidays: calendar.holidays.into_iter().collect(),
        }
    }
}

/// Open intervals `[open, close)` in UTC, in chronological order, disjoint and non-empty, for the
/// windows of local dates `first..=last`.
struct OpenIntervals<'a> {
    calendar: &'a BusinessCalendar,
    date: NaiveDate,
    /// `date`'s weekday, Monday = 0; tracked to avoid recomputing it per window.
    weekday: usize,
    /// Next window of `date` to yield.
    slot: usize,
    last: NaiveDate,
    done: bool,
    /// First holiday on or after `date`, so each day costs a comparison, not a set lookup.
    next_holiday: Option<NaiveDate>,
    last_close: Option<DateTime<Utc>>,
}

impl OpenIntervals<'_> {
    fn next_day(&mut self) {
        match self.date.succ_opt() {
            Some(date) if date <= self.last => {
                self.date = date;
                self.weekday = (self.weekday + 1) % 7;
                self.slot = 0;
                if self.next_holiday.is_some_and(|holiday| holiday < date) {
                    self.next_holiday = self.calendar.holidays.range(date..).next().copied();
                }
            }
            _ => self.done = true,
        }
    }
}

impl Iterator for OpenIntervals<'_> {
    type Item = (DateTime<Utc>, DateTime<Utc>);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let windows = &self.calendar.week[self.weekday];
            if self.slot >= windows.len() || self.next_holiday == Some(self.date) {
                self.next_day();
                continue;
            }
            let window = windows[self.slot];
            self.slot += 1;
            let tz = &self.calendar.tz;
            // Only fails at the ends of chrono's representable range.
            let (Some(open), Some(close)) =
                (resolve_local(tz, self.date, window.start, false), resolve_local(tz, self.date, window.end, true))
            else {
                self.done = true;
                return None;
            };
            // Around a fold the latest end of one window can pass the earliest start of the next.
            let open = match self.last_close {
                Some(last_close) => open.max(last_close),
                None => open,
            };
            if open < close {
                self.last_close = Some(close);
                return Some((open, close));
            }
        }
        None
    }
}

/// The instant local `date` begins in `tz`: its midnight, or the instant the clocks jump to when
/// midnight falls in a spring-forward gap (as in Chile). `None` only at the ends of chrono's range.
pub fn local_day_start(tz: &Tz, date: NaiveDate) -> Option<DateTime<Utc>> {
    resolve_local(tz, date, 0, false)
}

/// The instant of local `date` + `minute` (1440 = next midnight) under the module's DST rule.
fn resolve_local(tz: &Tz, date: NaiveDate, minute: u16, latest: bool) -> Option<DateTime<Utc>> {
    let local: NaiveDateTime = if minute >= MINUTES_PER_DAY {
        date.succ_opt()?.and_time(NaiveTime::MIN)
    } else {
        date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(u32::from(minute) * 60, 0)?)
    };
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => Some(at.to_utc()),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.to_utc(), b.to_utc());
            Some(if latest { a.max(b) } else { a.min(b) })
        }
        // In a spring-forward gap: the instant the clocks jump to.
        LocalResult::None => GapInfo::new(&local, tz)?.end.map(|at| at.to_utc()),
    }
}

/// Adds "días hábiles administrativos" (Monday–Friday except `holidays`) for legal deadlines:
/// the `days`-th working day after `date`; `date` itself is never counted, so `days == 0` returns it
/// unchanged. Saturates at `NaiveDate::MAX` (only reachable with absurd `days`).
pub fn add_working_days(date: NaiveDate, days: u32, holidays: &BTreeSet<NaiveDate>) -> NaiveDate {
    let mut current = date;
    let mut pending = u64::from(days);
    while pending > 0 {
        let Some(target) = add_weekdays(current, pending) else {
            return NaiveDate::MAX;
        };
        // Every weekday holiday in (current, target] displaces one working day further.
        pending = holidays.range((Excluded(current), Included(target))).filter(|day| is_weekday(**day)).count() as u64;
        current = target;
    }
    current
}

fn is_weekday(date: NaiveDate) -> bool {
    date.weekday().num_days_from_monday() < 5
}

/// The `n`-th Monday–Friday after `date`, in O(1).
fn add_weekdays(date: NaiveDate, n: u64) -> Option<NaiveDate> {
    let weekday = u64::from(date.weekday().num_days_from_monday());
    // From a weekend the count runs as from the preceding Friday.
    let (base, weekday) =
        if weekday >= 5 { (date.checked_sub_days(Days::new(weekday - 4))?, 4) } else { (date, weekday) };
    let rest = n % 5;
    let mut offset = (n / 5) * 7 + rest;
    if weekday + rest > 4 {
        offset += 2;
    }
    base.checked_add_days(Days::new(offset))
}

/// Parses `date,name` lines after a `date,name` header (as in `chile_holidays.csv`). Blank lines
/// are skipped; a name may be double-quoted (`""` escapes a quote). Line numbers in errors are 1-based.
pub fn parse_holidays_csv(text: &str) -> Result<Vec<(NaiveDate, String)>, CalendarError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines =
        text.lines().enumerate().map(|(index, line)| (index + 1, line.trim())).filter(|(_, l)| !l.is_empty());
    let csv_error = |line: usize, reason: &str| CalendarError::Csv { line, reason: reason.to_owned() };
    match lines.next() {
        Some((_, header)) if header.replace(' ', "").eq_ignore_ascii_case("date,name") => {}
        Some((line, _)) => return Err(csv_error(line, "se esperaba la cabecera `date,name`")),
        None => return Err(csv_error(1, "archivo vacío, se esperaba la cabecera `date,name`")),
    }
    let mut holidays = Vec::new();
    for (line, content) in lines {
        let (date, name) =
            content.split_once(',').ok_or_else(|| csv_error(line, "falta la coma entre fecha y nombre"))?;
        let date = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
            .map_err(|_| csv_error(line, &format!("fecha inválida `{}`, se espera AAAA-MM-DD", date.trim())))?;
        let name = unquote(name.trim());
        if name.is_empty() {
            return Err(csv_error(line, "falta el nombre del feriado"));
        }
        holidays.push((date, name));
    }
    Ok(holidays)
}

fn unquote(field: &str) -> String {
    match field.strip_prefix('"').and_then(|inner| inner.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\"").trim().to_owned(),
        None => field.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SANTIAGO: Tz = chrono_tz::America::Santiago;
    const PUNTA_ARENAS: Tz = chrono_tz::America::Punta_Arenas;

    /// Real 2025–2027 Chilean holidays (subset of /work/shared/data/chile_holidays.csv).
    const HOLIDAYS_CSV: &str = "\
date,name
2025-01-01,Año Nuevo
2025-04-18,Viernes Santo
2025-04-19,Sábado Santo
2025-05-01,Día Nacional del Trabajo
2025-05-21,Día de las Glorias Navales
2025-06-20,Día Nacional de los Pueblos Indígenas
2025-09-18,Día de la Independencia
2025-09-19,Día de las Glorias del Ejército
2025-12-08,La Inmaculada Concepción
2025-12-25,Navidad
2026-01-01,Año Nuevo
2026-04-03,Viernes Santo
2026-04-04,Sábado Santo
2026-05-01,Día Nacional del Trabajo
2026-05-21,Día de las Glorias Navales
2026-06-29,San Pedro y San Pablo
2026-09-18,Día de la Independencia
2026-09-19,Día de las Glorias del Ejército
2026-10-12,Día del Encuentro de dos Mundos
2026-12-08,La Inmaculada Concepción
2026-12-25,Navidad
2027-01-01,Año Nuevo
2027-04-02,Viernes Santo
2027-09-17,Fiestas Patrias
2027-09-18,Día de la Independencia
";

    fn holidays() -> BTreeSet<NaiveDate> {
        parse_holidays_csv(HOLIDAYS_CSV).unwrap().into_iter().map(|(date, _)| date).collect()
    }

    fn office() -> BusinessCalendar {
        BusinessCalendar::office_hours_santiago(holidays())
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// A local wall-clock time that exists exactly once in `tz`.
    fn local(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, m, d, h, min, 0).single().expect("unambiguous local time").to_utc()
    }

    fn scl(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        local(SANTIAGO, y, m, d, h, min)
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn w(start: &str, end: &str) -> Window {
        Window::from_minutes(Window::parse_time(start).unwrap(), Window::parse_time(end).unwrap()).unwrap()
    }

    fn weekdays(windows: Vec<Window>) -> [Vec<Window>; 7] {
        std::array::from_fn(|day| if day < 5 { windows.clone() } else { Vec::new() })
    }

    fn split_office() -> BusinessCalendar {
        BusinessCalendar::new(SANTIAGO, weekdays(vec![w("09:00", "13:00"), w("14:00", "18:00")]), holidays()).unwrap()
    }

    /// Only `day` open, with `windows`.
    fn one_day(day: Weekday, windows: Vec<Window>) -> BusinessCalendar {
        let mut week: [Vec<Window>; 7] = Default::default();
        week[day.num_days_from_monday() as usize] = windows;
        BusinessCalendar::new(SANTIAGO, week, []).unwrap()
    }

    // --- construction and validation ---

    #[test]
    fn new_rejects_invalid_windows() {
        let bad = |windows: Vec<Window>| BusinessCalendar::new(SANTIAGO, weekdays(windows), []).unwrap_err();
        assert!(matches!(
            bad(vec![Window { start: 600, end: 600 }]),
            CalendarError::InvalidWindow { weekday: "lunes", window: Window { start: 600, end: 600 } }
        ));
        assert!(matches!(bad(vec![Window { start: 700, end: 600 }]), CalendarError::InvalidWindow { .. }));
        assert!(matches!(bad(vec![Window { start: 600, end: 1441 }]), CalendarError::InvalidWindow { .. }));
        assert_eq!(
            bad(vec![w("09:00", "13:00"), w("12:00", "18:00")]),
            CalendarError::OverlappingWindows { weekday: "lunes" }
        );
        assert_eq!(
            bad(vec![w("14:00", "18:00"), w("09:00", "13:00")]),
            CalendarError::OverlappingWindows { weekday: "lunes" }
        );
        let mut week: [Vec<Window>; 7] = Default::default();
        week[6] = vec![w("10:00", "12:00"), w("11:00", "13:00")];
        assert_eq!(
            BusinessCalendar::new(SANTIAGO, week, []).unwrap_err().to_string(),
            "las ventanas horarias del domingo deben estar ordenadas y sin traslaparse"
        );
        // Touching windows and 24:00 are fine.
        assert!(BusinessCalendar::new(SANTIAGO, weekdays(vec![w("00:00", "13:00"), w("13:00", "24:00")]), []).is_ok());
    }

    #[test]
    fn window_constructors_and_parsing() {
        let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
        let six = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
        assert_eq!(Window::new(nine, Some(six)).unwrap(), Window { start: 540, end: 1080 });
        assert_eq!(Window::new(nine, None).unwrap(), Window { start: 540, end: 1440 });
        assert!(Window::new(six, Some(nine)).is_err());
        assert!(Window::new(NaiveTime::from_hms_opt(9, 0, 30).unwrap(), None).is_err());
        assert_eq!(Window::parse_time("9:30").unwrap(), 570);
        assert_eq!(Window::parse_time("24:00").unwrap(), 1440);
        for bad in ["24:01", "25:00", "09:60", "0900", "09:0", "", "-1:00", "+9:00", "009:00"] {
            assert!(Window::parse_time(bad).is_err(), "{bad}");
        }
        assert_eq!(w("09:00", "24:00").to_string(), "09:00–24:00");
    }

    #[test]
    fn serde_round_trip() {
        let window: Window = serde_json::from_str(r#"{"start":"09:00","end":"24:00"}"#).unwrap();
        assert_eq!(window, Window { start: 540, end: 1440 });
        assert_eq!(serde_json::to_string(&window).unwrap(), r#"{"start":"09:00","end":"24:00"}"#);
        assert!(serde_json::from_str::<Window>(r#"{"start":"09:00","end":"24:30"}"#).is_err());

        let calendar = split_office();
        let json = serde_json::to_value(&calendar).unwrap();
        assert_eq!(json["time_zone"], "America/Santiago");
        assert_eq!(json["week"][0][1]["start"], "14:00");
        assert_eq!(json["holidays"][0], "2025-01-01");
        assert_eq!(serde_json::from_value::<BusinessCalendar>(json).unwrap(), calendar);

        let spec = r#"{"week":[[{"start":"09:00","end":"18:00"}],[],[],[],[],[],[]]}"#;
        let parsed: BusinessCalendar = serde_json::from_str(spec).unwrap();
        assert_eq!(parsed.tz(), SANTIAGO);
        assert_eq!(parsed.windows(Weekday::Mon), &[w("09:00", "18:00")]);
        assert!(parsed.windows(Weekday::Tue).is_empty());

        let bad_zone = r#"{"time_zone":"America/Valparaiso","week":[[],[],[],[],[],[],[]]}"#;
        assert!(serde_json::from_str::<BusinessCalendar>(bad_zone).unwrap_err().to_string().contains("Valparaiso"));
        let overlap =
            r#"{"week":[[{"start":"09:00","end":"18:00"},{"start":"10:00","end":"11:00"}],[],[],[],[],[],[]]}"#;
        assert!(serde_json::from_str::<BusinessCalendar>(overlap).is_err());
    }

    // --- office hours, America/Santiago ---

    #[test]
    fn start_inside_a_window() {
        let cal = office();
        // Tuesday 2026-03-10, summer time (UTC-3).
        let start = scl(2026, 3, 10, 10, 0);
        assert_eq!(start, utc(2026, 3, 10, 13, 0));
        assert_eq!(cal.add_business_minutes(start, 60), Some(scl(2026, 3, 10, 11, 0)));
        assert_eq!(cal.add_business_minutes(start, 480), Some(scl(2026, 3, 10, 18, 0)));
        assert_eq!(cal.add_business_minutes(start, 481), Some(scl(2026, 3, 11, 9, 1)));
        assert_eq!(cal.add_business_minutes(start, 540), Some(scl(2026, 3, 11, 10, 0)));
        let with_seconds = start + TimeDelta::seconds(17) + TimeDelta::milliseconds(250);
        assert_eq!(
            cal.add_business_minutes(with_seconds, 490),
            Some(scl(2026, 3, 11, 9, 10) + TimeDelta::milliseconds(17_250))
        );
    }

    #[test]
    fn start_before_opening_and_after_closing() {
        let cal = office();
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 10, 7, 30), 30), Some(scl(2026, 3, 10, 9, 30)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 10, 0, 0), 540), Some(scl(2026, 3, 10, 18, 0)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 10, 19, 0), 30), Some(scl(2026, 3, 11, 9, 30)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 10, 18, 0), 1), Some(scl(2026, 3, 11, 9, 1)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 10, 23, 59), 1), Some(scl(2026, 3, 11, 9, 1)));
    }

    #[test]
    fn friday_evening_rolls_to_monday() {
        let cal = office();
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 13, 17, 30), 60), Some(scl(2026, 3, 16, 9, 30)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 13, 20, 0), 60), Some(scl(2026, 3, 16, 10, 0)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 14, 11, 0), 0), Some(scl(2026, 3, 16, 9, 0)));
        assert_eq!(cal.business_minutes_between(scl(2026, 3, 13, 17, 0), scl(2026, 3, 16, 10, 0)), 120);
    }

    #[test]
    fn holidays_are_skipped_whole() {
        let cal = office();
        // Fiestas Patrias 2026: Friday 18 and Saturday 19 September.
        assert_eq!(cal.add_business_minutes(scl(2026, 9, 17, 17, 0), 120), Some(scl(2026, 9, 21, 10, 0)));
        assert_eq!(cal.add_business_minutes(scl(2026, 9, 18, 10, 0), 0), Some(scl(2026, 9, 21, 9, 0)));
        assert!(!cal.is_open(scl(2026, 9, 18, 10, 0)));
        assert_eq!(cal.business_minutes_between(scl(2026, 9, 17, 0, 0), scl(2026, 9, 22, 0, 0)), 1080);
        // 1 May 2026 is a Friday (Día Nacional del Trabajo); winter time (UTC-4) by then.
        let deadline = cal.add_business_minutes(scl(2026, 4, 30, 17, 0), 120).unwrap();
        assert_eq!(deadline, scl(2026, 5, 4, 10, 0));
        assert_eq!(deadline, utc(2026, 5, 4, 14, 0));
        assert_eq!(cal.next_opening(scl(2026, 5, 1, 8, 0)), Some(scl(2026, 5, 4, 9, 0)));
        // Holidays are local dates: 1 May closes from local midnight (04:00 UTC) to local midnight.
        let all_day: [Vec<Window>; 7] = std::array::from_fn(|_| vec![Window::ALL_DAY]);
        let cal = BusinessCalendar::new(SANTIAGO, all_day, [date(2026, 5, 1)]).unwrap();
        assert!(cal.is_open(utc(2026, 5, 1, 3, 59)));
        assert!(!cal.is_open(utc(2026, 5, 1, 4, 0)));
        assert!(!cal.is_open(utc(2026, 5, 2, 3, 59)));
        assert!(cal.is_open(utc(2026, 5, 2, 4, 0)));
        assert_eq!(cal.business_minutes_between(utc(2026, 5, 1, 0, 0), utc(2026, 5, 3, 0, 0)), 48 * 60 - 24 * 60);
    }

    #[test]
    fn lunch_gap_with_split_windows() {
        let cal = split_office();
        // Monday 2026-03-09.
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 9, 12, 30), 60), Some(scl(2026, 3, 9, 14, 30)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 9, 12, 0), 60), Some(scl(2026, 3, 9, 13, 0)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 9, 12, 0), 61), Some(scl(2026, 3, 9, 14, 1)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 9, 13, 15), 0), Some(scl(2026, 3, 9, 14, 0)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 9, 13, 0), 0), Some(scl(2026, 3, 9, 14, 0)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 9, 9, 0), 480), Some(scl(2026, 3, 9, 18, 0)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 9, 9, 0), 481), Some(scl(2026, 3, 10, 9, 1)));
        assert_eq!(cal.business_minutes_between(scl(2026, 3, 9, 12, 0), scl(2026, 3, 9, 15, 0)), 120);
        assert!(cal.is_open(scl(2026, 3, 9, 12, 59)));
        assert!(!cal.is_open(scl(2026, 3, 9, 13, 0)));
        assert!(!cal.is_open(scl(2026, 3, 9, 13, 59)));
        assert!(cal.is_open(scl(2026, 3, 9, 14, 0)));
    }

    #[test]
    fn touching_windows_are_continuous() {
        let cal =
            BusinessCalendar::new(SANTIAGO, weekdays(vec![w("09:00", "13:00"), w("13:00", "18:00")]), []).unwrap();
        assert!(cal.is_open(scl(2026, 3, 9, 13, 0)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 9, 12, 0), 120), Some(scl(2026, 3, 9, 14, 0)));
        assert_eq!(cal.business_minutes_between(scl(2026, 3, 9, 9, 0), scl(2026, 3, 9, 18, 0)), 540);
    }

    #[test]
    fn zero_minutes() {
        let cal = office();
        let inside = scl(2026, 3, 10, 10, 17) + TimeDelta::seconds(5);
        assert_eq!(cal.add_business_minutes(inside, 0), Some(inside));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 10, 9, 0), 0), Some(scl(2026, 3, 10, 9, 0)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 10, 8, 59), 0), Some(scl(2026, 3, 10, 9, 0)));
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 10, 18, 0), 0), Some(scl(2026, 3, 11, 9, 0)));
        // Negative counts are treated as zero.
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 10, 18, 0), -30), Some(scl(2026, 3, 11, 9, 0)));
        assert_eq!(cal.next_opening(inside), Some(inside));
    }

    #[test]
    fn targets_spanning_several_weeks() {
        let cal = office();
        // Four full weeks from Monday 2 March 2026 end at the close of Friday 27 March.
        assert_eq!(cal.add_business_minutes(scl(2026, 3, 2, 9, 0), 4 * 5 * 540), Some(scl(2026, 3, 27, 18, 0)));
        // Ten working days from Monday 30 March skip Good Friday (3 April) and the DST change of 5 April.
        let deadline = cal.add_business_minutes(scl(2026, 3, 30, 9, 0), 10 * 540).unwrap();
        assert_eq!(deadline, scl(2026, 4, 13, 18, 0));
        assert_eq!(deadline, utc(2026, 4, 13, 22, 0));
        // Across the year end: 2026-12-25 (Friday) and 2027-01-01 (Friday) are holidays.
        assert_eq!(cal.add_business_minutes(scl(2026, 12, 21, 9, 0), 10 * 540), Some(scl(2027, 1, 5, 18, 0)));
        // About six months of office time.
        let start = scl(2026, 1, 5, 9, 0);
        let deadline = cal.add_business_minutes(start, 100_000).unwrap();
        assert_eq!(cal.business_minutes_between(start, deadline), 100_000);
        // 100_000 = 185 days × 540 + 100: the 186th working day (not counting holidays), 10:40.
        assert_eq!(deadline, scl(2026, 9, 28, 10, 40));
    }

    #[test]
    fn business_time_between() {
        let cal = office();
        let monday = scl(2026, 3, 9, 9, 0);
        assert_eq!(cal.business_seconds_between(monday, monday + TimeDelta::weeks(1)), 5 * 540 * 60);
        assert_eq!(cal.business_minutes_between(monday, monday + TimeDelta::weeks(1)), 2700);
        assert_eq!(cal.business_seconds_between(monday + TimeDelta::hours(1), monday), 0);
        assert_eq!(cal.business_seconds_between(monday, monday), 0);
        // Truncation to whole seconds and minutes.
        let later = monday + TimeDelta::milliseconds(119_999);
        assert_eq!(cal.business_seconds_between(monday, later), 119);
        assert_eq!(cal.business_minutes_between(monday, later), 1);
        assert_eq!(cal.business_time_between(monday, later), TimeDelta::milliseconds(119_999));
        // Spring-forward weekend does not touch office hours: Friday 17:00 (UTC-4) → Monday 10:00 (UTC-3).
        let friday = scl(2026, 9, 4, 17, 0);
        let monday = scl(2026, 9, 7, 10, 0);
        assert_eq!((monday - friday).num_minutes(), 65 * 60 - 60);
        assert_eq!(cal.business_minutes_between(friday, monday), 120);
    }

    #[test]
    fn calendar_hours_in_utc() {
        let cal = BusinessCalendar::always_open();
        let start = utc(2026, 9, 5, 23, 59) + TimeDelta::milliseconds(500);
        assert_eq!(cal.add_business_minutes(start, 90), Some(start + TimeDelta::minutes(90)));
        assert_eq!(cal.add_business_minutes(start, 0), Some(start));
        assert_eq!(cal.add_business_minutes(start, 60 * 24 * 365), Some(start + TimeDelta::days(365)));
        assert_eq!(cal.business_seconds_between(start, start + TimeDelta::milliseconds(90_500)), 90);
        assert!(cal.is_open(start));
    }

    // --- DST, America/Santiago ---

    #[test]
    fn chrono_tz_transition_dates_for_2026() {
        // Fall back: Sunday 5 April 2026 00:00 UTC-3 becomes Saturday 23:00 UTC-4.
        let fold = SANTIAGO.with_ymd_and_hms(2026, 4, 4, 23, 30, 0);
        assert!(matches!(fold, LocalResult::Ambiguous(..)));
        assert_eq!(fold.earliest().unwrap().to_utc(), utc(2026, 4, 5, 2, 30));
        assert_eq!(fold.latest().unwrap().to_utc(), utc(2026, 4, 5, 3, 30));
        assert_eq!(SANTIAGO.with_ymd_and_hms(2026, 4, 5, 0, 0, 0).single().unwrap().to_utc(), utc(2026, 4, 5, 4, 0));
        // Spring forward: Sunday 6 September 2026 00:00 UTC-4 becomes 01:00 UTC-3.
        assert_eq!(SANTIAGO.with_ymd_and_hms(2026, 9, 6, 0, 30, 0), LocalResult::None);
        assert_eq!(SANTIAGO.with_ymd_and_hms(2026, 9, 6, 1, 0, 0).single().unwrap().to_utc(), utc(2026, 9, 6, 4, 0));
        assert_eq!(SANTIAGO.with_ymd_and_hms(2026, 9, 5, 23, 59, 0).single().unwrap().to_utc(), utc(2026, 9, 6, 3, 59));
    }

    #[test]
    fn spring_forward_loses_an_hour() {
        let cal = BusinessCalendar::always_open_in(SANTIAGO);
        let from = scl(2026, 9, 5, 12, 0);
        let to = scl(2026, 9, 6, 12, 0);
        assert_eq!(
            (to.with_timezone(&SANTIAGO).naive_local() - from.with_timezone(&SANTIAGO).naive_local()).num_minutes(),
            1440
        );
        assert_eq!(cal.business_minutes_between(from, to), 1380);
        assert_eq!(cal.add_business_minutes(from, 1380), Some(to));
        // Saturday 23:30 (UTC-4) + 60 minutes is Sunday 01:30 on the wall clock.
        assert_eq!(cal.add_business_minutes(scl(2026, 9, 5, 23, 30), 60), Some(scl(2026, 9, 6, 1, 30)));
        assert!(cal.is_open(utc(2026, 9, 6, 4, 0)));
        assert!(cal.is_open(utc(2026, 9, 6, 3, 59)));
    }

    #[test]
    fn fall_back_gains_an_hour() {
        let cal = BusinessCalendar::always_open_in(SANTIAGO);
        let from = scl(2026, 4, 4, 12, 0);
        let to = scl(2026, 4, 5, 12, 0);
        assert_eq!(
            (to.with_timezone(&SANTIAGO).naive_local() - from.with_timezone(&SANTIAGO).naive_local()).num_minutes(),
            1440
        );
        assert_eq!(cal.business_minutes_between(from, to), 1500);
        assert_eq!(cal.add_business_minutes(from, 1500), Some(to));
        // Both occurrences of 23:30 are open.
        assert!(cal.is_open(utc(2026, 4, 5, 2, 30)));
        assert!(cal.is_open(utc(2026, 4, 5, 3, 30)));
    }

    #[test]
    fn saturday_evening_window_on_dst_nights() {
        let cal = one_day(Weekday::Sat, vec![w("20:00", "24:00")]);
        let count = |saturday: NaiveDate| {
            let from = local(SANTIAGO, saturday.year(), saturday.month(), saturday.day(), 0, 0);
            cal.business_minutes_between(from, from + TimeDelta::days(3))
        };
        assert_eq!(count(date(2026, 4, 11)), 240);
        // Fall back: 20:00 UTC-3 to midnight UTC-4 is five real hours.
        assert_eq!(count(date(2026, 4, 4)), 300);
        assert_eq!(cal.next_opening(utc(2026, 4, 4, 12, 0)), Some(utc(2026, 4, 4, 23, 0)));
        assert_eq!(cal.add_business_minutes(utc(2026, 4, 4, 12, 0), 300), Some(utc(2026, 4, 5, 4, 0)));
        // Spring forward: 24:00 does not exist and maps to 01:00 UTC-3, still four real hours.
        assert_eq!(count(date(2026, 9, 5)), 240);
        assert_eq!(cal.add_business_minutes(utc(2026, 9, 5, 12, 0), 240), Some(utc(2026, 9, 6, 4, 0)));
        assert_eq!(cal.add_business_minutes(utc(2026, 9, 5, 12, 0), 241), Some(utc(2026, 9, 12, 23, 1)));
    }

    #[test]
    fn window_bounds_inside_the_repeated_or_missing_hour() {
        // Ambiguous start takes the earliest instant, ambiguous end the latest: 23:00–23:30 lasts 90 minutes.
        let cal = one_day(Weekday::Sat, vec![w("23:00", "23:30")]);
        let saturday = scl(2026, 4, 4, 0, 0);
        assert_eq!(cal.business_minutes_between(saturday, saturday + TimeDelta::days(2)), 90);
        assert_eq!(cal.next_opening(saturday), Some(utc(2026, 4, 5, 2, 0)));
        assert_eq!(cal.add_business_minutes(saturday, 90), Some(utc(2026, 4, 5, 3, 30)));
        // The same window on an ordinary Saturday lasts 30 minutes.
        let ordinary = scl(2026, 4, 11, 0, 0);
        assert_eq!(cal.business_minutes_between(ordinary, ordinary + TimeDelta::days(2)), 30);

        // Sunday 00:00–02:00 on spring-forward day: 00:00 maps to 01:00 UTC-3, one real hour.
        let cal = one_day(Weekday::Sun, vec![w("00:00", "02:00")]);
        let sunday = utc(2026, 9, 6, 0, 0);
        assert_eq!(cal.business_minutes_between(sunday, sunday + TimeDelta::days(1)), 60);
        assert_eq!(cal.next_opening(sunday), Some(utc(2026, 9, 6, 4, 0)));
        // On fall-back Sunday local 00:00 exists once (UTC-4): two hours.
        let sunday = utc(2026, 4, 5, 0, 0);
        assert_eq!(cal.business_minutes_between(sunday, sunday + TimeDelta::days(1)), 120);
        assert_eq!(cal.next_opening(sunday), Some(utc(2026, 4, 5, 4, 0)));

        // A window entirely inside the gap is empty.
        let cal = one_day(Weekday::Sun, vec![w("00:15", "00:45"), w("12:00", "13:00")]);
        assert_eq!(cal.next_opening(utc(2026, 9, 6, 0, 0)), Some(scl(2026, 9, 6, 12, 0)));
        assert_eq!(cal.business_minutes_between(utc(2026, 9, 6, 0, 0), utc(2026, 9, 7, 0, 0)), 60);
        assert_eq!(cal.business_minutes_between(utc(2026, 9, 13, 0, 0), utc(2026, 9, 14, 0, 0)), 90);
    }

    #[test]
    fn overlapping_windows_across_a_fold_are_not_double_counted() {
        // 22:00–23:30 ends at the second 23:30 while 23:30–24:00 starts at the first one:
        // the overlap counts once, 22:00 UTC-3 to 24:00 UTC-4 = 3 hours.
        let cal = one_day(Weekday::Sat, vec![w("22:00", "23:30"), w("23:30", "24:00")]);
        let saturday = scl(2026, 4, 4, 0, 0);
        assert_eq!(cal.business_minutes_between(saturday, saturday + TimeDelta::days(2)), 180);
        let intervals: Vec<_> = cal.intervals(date(2026, 4, 4), date(2026, 4, 5)).collect();
        assert_eq!(
            intervals,
            vec![(utc(2026, 4, 5, 1, 0), utc(2026, 4, 5, 3, 30)), (utc(2026, 4, 5, 3, 30), utc(2026, 4, 5, 4, 0))]
        );
    }

    #[test]
    fn punta_arenas_has_no_dst() {
        let cal = BusinessCalendar::always_open_in(PUNTA_ARENAS);
        for (from, to) in [
            (local(PUNTA_ARENAS, 2026, 9, 5, 12, 0), local(PUNTA_ARENAS, 2026, 9, 6, 12, 0)),
            (local(PUNTA_ARENAS, 2026, 4, 4, 12, 0), local(PUNTA_ARENAS, 2026, 4, 5, 12, 0)),
        ] {
            assert_eq!(cal.business_minutes_between(from, to), 1440);
        }
        // UTC-3 in July too, while Santiago is at UTC-4.
        assert_eq!(local(PUNTA_ARENAS, 2026, 7, 1, 9, 0), utc(2026, 7, 1, 12, 0));
        assert_eq!(local(PUNTA_ARENAS, 2026, 1, 5, 9, 0), utc(2026, 1, 5, 12, 0));
        assert_eq!(scl(2026, 7, 1, 9, 0), utc(2026, 7, 1, 13, 0));
        let office = BusinessCalendar::new(PUNTA_ARENAS, weekdays(vec![w("09:00", "18:00")]), []).unwrap();
        assert_eq!(office.next_opening(utc(2026, 7, 1, 0, 0)), Some(utc(2026, 7, 1, 12, 0)));
        assert_eq!(office.add_business_minutes(utc(2026, 9, 4, 20, 0), 60), Some(utc(2026, 9, 4, 21, 0)));
        assert_eq!(office.add_business_minutes(utc(2026, 9, 4, 20, 0), 120), Some(utc(2026, 9, 7, 13, 0)));
    }

    // --- degenerate calendars ---

    #[test]
    fn calendar_without_windows() {
        let cal = BusinessCalendar::new(SANTIAGO, Default::default(), []).unwrap();
        let at = utc(2026, 3, 9, 12, 0);
        assert_eq!(cal.add_business_minutes(at, 60), None);
        assert_eq!(cal.add_business_minutes(at, 0), None);
        assert_eq!(cal.next_opening(at), None);
        assert_eq!(cal.business_seconds_between(at, at + TimeDelta::weeks(1000)), 0);
        assert!(!cal.is_open(at));
    }

    #[test]
    fn search_is_bounded_when_every_day_is_a_holiday() {
        let first = date(2026, 1, 1);
        let all_days = first.iter_days().take(25 * 366);
        let cal = BusinessCalendar::office_hours_santiago(all_days);
        let at = scl(2026, 1, 1, 0, 0);
        assert_eq!(cal.next_opening(at), None);
        assert_eq!(cal.add_business_minutes(at, 1), None);
        assert_eq!(cal.business_seconds_between(at, at + TimeDelta::days(3650)), 0);
        // Beyond the horizon even an always-open calendar gives up.
        let open = BusinessCalendar::always_open();
        assert_eq!(open.add_business_minutes(utc(2026, 1, 1, 0, 0), 21 * 366 * 1440), None);
        assert_eq!(open.add_business_minutes(utc(2026, 1, 1, 0, 0), i64::MAX), None);
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let cal = office();
        assert_eq!(cal.add_business_minutes(DateTime::<Utc>::MAX_UTC, 60), None);
        assert!(cal.add_business_minutes(DateTime::<Utc>::MIN_UTC, 60).is_some());
        let _ = cal.is_open(DateTime::<Utc>::MAX_UTC);
        let _ = cal.is_open(DateTime::<Utc>::MIN_UTC);
        let _ = cal.business_seconds_between(DateTime::<Utc>::MAX_UTC - TimeDelta::days(30), DateTime::<Utc>::MAX_UTC);
    }

    // --- add_working_days ---

    #[test]
    fn working_days() {
        let holidays = holidays();
        assert_eq!(add_working_days(date(2026, 3, 13), 1, &holidays), date(2026, 3, 16));
        assert_eq!(add_working_days(date(2026, 3, 12), 1, &holidays), date(2026, 3, 13));
        assert_eq!(add_working_days(date(2026, 3, 9), 5, &holidays), date(2026, 3, 16));
        assert_eq!(add_working_days(date(2026, 3, 14), 1, &holidays), date(2026, 3, 16));
        assert_eq!(add_working_days(date(2026, 3, 15), 5, &holidays), date(2026, 3, 20));
        assert_eq!(add_working_days(date(2026, 3, 13), 0, &holidays), date(2026, 3, 13));
        // Fiestas Patrias: Friday 18 is a holiday, Saturday 19 falls on a weekend anyway.
        assert_eq!(add_working_days(date(2026, 9, 17), 1, &holidays), date(2026, 9, 21));
        assert_eq!(add_working_days(date(2026, 9, 16), 3, &holidays), date(2026, 9, 22));
        // Year end: Christmas and New Year 2027 are both Fridays.
        assert_eq!(add_working_days(date(2026, 12, 31), 1, &holidays), date(2027, 1, 4));
        assert_eq!(add_working_days(date(2026, 12, 24), 1, &holidays), date(2026, 12, 28));
        assert_eq!(add_working_days(date(2026, 12, 23), 7, &holidays), date(2027, 1, 5));
        // Legal deadlines across Good Friday (3 April) and 1 May 2026.
        assert_eq!(add_working_days(date(2026, 4, 1), 20, &holidays), date(2026, 4, 30));
        assert_eq!(add_working_days(date(2026, 4, 1), 21, &holidays), date(2026, 5, 4));
        assert_eq!(add_working_days(date(2026, 1, 1), u32::MAX, &holidays), NaiveDate::MAX);
    }

    fn naive_working_days(mut date: NaiveDate, days: u32, holidays: &BTreeSet<NaiveDate>) -> NaiveDate {
        for _ in 0..days {
            date = date.succ_opt().unwrap();
            while !is_weekday(date) || holidays.contains(&date) {
                date = date.succ_opt().unwrap();
            }
        }
        date
    }

    // --- parse_holidays_csv ---

    #[test]
    fn parses_holidays_csv() {
        let text = "\u{feff}date,name\r\n2026-09-18,Día de la Independencia\r\n\r\n2026-09-19 , \"Día de las Glorias del Ejército\"\r\n2027-01-01,\"Año Nuevo, \"\"feriado\"\"\"\n";
        let parsed = parse_holidays_csv(text).unwrap();
        assert_eq!(
            parsed,
            vec![
                (date(2026, 9, 18), "Día de la Independencia".to_owned()),
                (date(2026, 9, 19), "Día de las Glorias del Ejército".to_owned()),
                (date(2027, 1, 1), "Año Nuevo, \"feriado\"".to_owned()),
            ]
        );
        assert_eq!(parse_holidays_csv("date,name\n").unwrap(), vec![]);
        let sample = parse_holidays_csv(HOLIDAYS_CSV).unwrap();
        assert_eq!(sample.len(), 25);
        assert_eq!(sample[1], (date(2025, 4, 18), "Viernes Santo".to_owned()));
    }

    #[test]
    fn rejects_bad_holiday_lines() {
        let err = parse_holidays_csv("date,name\n2026-09-18,Día de la Independencia\n2026-13-01,Nunca\n").unwrap_err();
        assert_eq!(
            err,
            CalendarError::Csv { line: 3, reason: "fecha inválida `2026-13-01`, se espera AAAA-MM-DD".into() }
        );
        assert_eq!(err.to_string(), "CSV de feriados, línea 3: fecha inválida `2026-13-01`, se espera AAAA-MM-DD");
        assert!(matches!(parse_holidays_csv("date,name\n2026-09-18\n"), Err(CalendarError::Csv { line: 2, .. })));
        assert!(matches!(parse_holidays_csv("date,name\n2026-09-18,  \n"), Err(CalendarError::Csv { line: 2, .. })));
        assert!(matches!(parse_holidays_csv("18/09/2026,Fiestas\n"), Err(CalendarError::Csv { line: 1, .. })));
        assert!(matches!(
            parse_holidays_csv("date,name\n18/09/2026,Fiestas\n"),
            Err(CalendarError::Csv { line: 2, .. })
        ));
        assert!(matches!(parse_holidays_csv(""), Err(CalendarError::Csv { line: 1, .. })));
    }

    // --- properties ---

    /// Independent definition of "open" for calendars whose window bounds avoid repeated hours:
    /// the local date is not a holiday and the local time of day lies in one of its windows.
    fn naive_open(cal: &BusinessCalendar, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&cal.tz()).naive_local();
        let minute = (local.time().num_seconds_from_midnight() / 60) as u16;
        !cal.is_holiday(local.date())
            && cal.windows(local.date().weekday()).iter().any(|w| w.start <= minute && minute < w.end)
    }

    /// Minute-by-minute reference for minute-aligned `start`: the deadline of each sorted target.
    fn naive_deadlines(cal: &BusinessCalendar, start: DateTime<Utc>, targets: &[i64]) -> Vec<DateTime<Utc>> {
        let mut deadlines = Vec::new();
        let mut at = start;
        let mut counted = 0;
        for &target in targets {
            while counted < target {
                if naive_open(cal, at) {
                    counted += 1;
                }
                at += TimeDelta::minutes(1);
            }
            deadlines.push(at);
        }
        deadlines
    }

    fn mixed_week() -> BusinessCalendar {
        let mut week = weekdays(vec![w("09:00", "13:00"), w("14:00", "18:00")]);
        week[5] = vec![w("20:00", "24:00")];
        week[6] = vec![w("00:00", "02:00")];
        BusinessCalendar::new(SANTIAGO, week, holidays()).unwrap()
    }

    #[test]
    fn matches_minute_by_minute_reference_around_dst_weekends() {
        let cal = mixed_week();
        let weekends = [
            (utc(2025, 4, 4, 0, 0), utc(2025, 4, 8, 0, 0)),
            (utc(2025, 9, 5, 0, 0), utc(2025, 9, 9, 0, 0)),
            (utc(2026, 4, 3, 0, 0), utc(2026, 4, 7, 0, 0)),
            (utc(2026, 9, 4, 0, 0), utc(2026, 9, 8, 0, 0)),
        ];
        let targets = [1, 59, 60, 61, 240, 300, 700];
        for (from, to) in weekends {
            let mut start = from;
            while start < to {
                assert_eq!(cal.is_open(start), naive_open(&cal, start), "{start}");
                let expected = naive_deadlines(&cal, start, &targets);
                for (&minutes, expected) in targets.iter().zip(expected) {
                    assert_eq!(cal.add_business_minutes(start, minutes), Some(expected), "{start} + {minutes}");
                }
                start += TimeDelta::minutes(37);
            }
        }
    }

    fn any_start() -> impl Strategy<Value = DateTime<Utc>> {
        let from = utc(2025, 1, 1, 0, 0).timestamp();
        let to = utc(2031, 1, 1, 0, 0).timestamp();
        (from..to, 0u32..1_000_000_000).prop_map(|(secs, nanos)| DateTime::from_timestamp(secs, nanos).unwrap())
    }

    fn check_deadline_properties(
        cal: &BusinessCalendar,
        start: DateTime<Utc>,
        m1: i64,
        m2: i64,
    ) -> Result<(), TestCaseError> {
        let (m1, m2) = (m1.min(m2), m1.max(m2));
        let d1 = cal.add_business_minutes(start, m1).unwrap();
        let d2 = cal.add_business_minutes(start, m2).unwrap();
        prop_assert_eq!(cal.business_minutes_between(start, d1), m1);
        prop_assert_eq!(cal.business_minutes_between(start, d2), m2);
        prop_assert_eq!(cal.business_time_between(start, d2), TimeDelta::minutes(m2));
        prop_assert!(d1 <= d2);
        prop_assert!(d1 >= start);
        for (m, d) in [(m1, d1), (m2, d2)] {
            if m == 0 {
                // Zero minutes: the first open instant at or after start.
                prop_assert!(cal.is_open(d));
                prop_assert_eq!(d == start, cal.is_open(start));
                prop_assert_eq!(cal.business_time_between(start, d), TimeDelta::zero());
            } else {
                // Inside an open window or exactly at its close: the instant just before is open.
                prop_assert!(d > start);
                prop_assert!(cal.is_open(d - TimeDelta::nanoseconds(1)));
            }
        }
        // Splitting a target does not change the deadline.
        if m2 > m1 {
            prop_assert_eq!(cal.add_business_minutes(d1, m2 - m1), Some(d2));
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn office_hours_deadlines(start in any_start(), m1 in 0i64..=100_000, m2 in 0i64..=100_000) {
            check_deadline_properties(&office(), start, m1, m2)?;
        }

        #[test]
        fn local_24x7_deadlines(start in any_start(), m1 in 0i64..=100_000, m2 in 0i64..=100_000) {
            check_deadline_properties(&BusinessCalendar::always_open_in(SANTIAGO), start, m1, m2)?;
        }

        #[test]
        fn small_targets_with_zero_and_boundaries(start in any_start(), m in prop_oneof![Just(0i64), Just(1), Just(540), 0i64..3000]) {
            check_deadline_properties(&office(), start, m, m + 1)?;
            check_deadline_properties(&mixed_week(), start, m, m + 1)?;
        }

        #[test]
        fn is_open_matches_local_definition(start in any_start()) {
            let cal = mixed_week();
            prop_assert_eq!(cal.is_open(start), naive_open(&cal, start));
            prop_assert!(BusinessCalendar::always_open_in(SANTIAGO).is_open(start));
        }

        #[test]
        fn working_days_match_day_by_day_count(day in 0u32..3000, days in 0u32..400) {
            let holidays = holidays();
            let start = date(2024, 1, 1) + TimeDelta::days(i64::from(day));
            prop_assert_eq!(add_working_days(start, days, &holidays), naive_working_days(start, days, &holidays));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn matches_minute_by_minute_reference(minute in 0i64..(6 * 366 * 1440), m in 1i64..3000) {
            let cal = mixed_week();
            let start = utc(2025, 1, 1, 0, 0) + TimeDelta::minutes(minute);
            prop_assert_eq!(cal.add_business_minutes(start, m), Some(naive_deadlines(&cal, start, &[m])[0]));
        }
    }
}
