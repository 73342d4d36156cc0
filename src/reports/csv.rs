//! CSV for any report: rows are flat structs, and serde gives their field names (the header) and
//! values in declaration order. Two dialects, one writer:
//!
//! - [`Dialect::Rfc4180`] (the default): `,` between fields, CRLF line ends, UTF-8 without BOM,
//!   the field names as column titles, `.` as decimal point. A field is quoted when it holds a
//!   comma, a quote or a line break, and quotes inside are doubled.
//! - [`Dialect::Excel`]: what a spreadsheet set to Spanish (Chile) opens in columns with a double
//!   click. Its list separator is `;` and its decimal mark `,`, and it reads a file without a BOM
//!   as ANSI (so "Atención" turns to mojibake): a UTF-8 BOM, `;` between fields, Spanish column
//!   titles and decimal commas. Quoting as above, with `;` as the separator.

use serde::ser::{self, Impossible, Serialize, SerializeStruct};
use serde_json::Value;

use crate::error::AppError;

/// How a CSV file is written (see the module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    #[default]
    Rfc4180,
    Excel,
}

impl Dialect {
    fn separator(self) -> char {
        match self {
            Dialect::Rfc4180 => ',',
            Dialect::Excel => ';',
        }
    }
}

/// The rows as CSV text with a header row. The header comes from `R::default()`, so an empty
/// report still names its columns.
pub fn to_csv<R: Serialize + Default>(rows: &[R], dialect: Dialect) -> Result<String, AppError> {
    let header = fields(&R::default())?;
    let mut out = String::new();
    if dialect == Dialect::Excel {
        out.push('\u{feff}');
    }
    let titles = header.iter().map(|(name, _)| match dialect {
        Dialect::Rfc4180 => (*name).to_owned(),
        Dialect::Excel => title(name).to_owned(),
    });
    write_line(&mut out, dialect, titles);
    for row in rows {
        write_line(&mut out, dialect, fields(row)?.into_iter().map(|(_, value)| cell(value, dialect)));
    }
    Ok(out)
}

fn write_line(out: &mut String, dialect: Dialect, cells: impl Iterator<Item = String>) {
    let separator = dialect.separator();
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(separator);
        }
        if cell.contains([separator, '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push_str("\r\n");
}

/// One value as text: empty for null. Text that a spreadsheet would run as a formula (an agent
/// named "=HYPERLINK(…)") gets a leading apostrophe; numbers are never touched, except that the
/// Excel dialect writes a decimal comma (and never an exponent, which a spreadsheet would read as
/// text).
fn cell(value: Value, dialect: Dialect) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        Value::String(s) => s,
        Value::Number(n) if dialect == Dialect::Excel && n.is_f64() => {
            n.as_f64().map(|f| f.to_string().replace('.', ",")).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

/// The Spanish title of a column (Excel dialect). Every report row and the CSAT figures share
/// this one table, so a column means the same in every download; a name without a title keeps
/// its own (a unit test checks that none is missing).
fn title(field: &str) -> &str {
    match field {
        // Periods and groups.
        "period" => "periodo",
        "date" => "fecha",
        "start" => "inicio",
        "end" => "fin",
        "group" => "grupo",
        "queue" => "cola",
        "metric" => "indicador",
        "agent_id" => "id agente",
        "agent" => "agente",
        "key" => "clave",
        "name" => "nombre",
        // Tickets.
        "tickets" => "casos",
        "created" => "creados",
        "resolved" => "resueltos",
        "open_at_end" => "abiertos al cierre",
        "first_reply_count" => "con primera respuesta",
        "first_reply_p50_secs" => "primera respuesta p50 (s)",
        "first_reply_p90_secs" => "primera respuesta p90 (s)",
        "resolution_count" => "con resolución",
        "resolution_p50_secs" => "resolución p50 (s)",
        "resolution_p90_secs" => "resolución p90 (s)",
        "met" => "cumplidos",
        "breached" => "incumplidos",
        "running" => "en curso",
        "cancelled" => "cancelados",
        "compliance" => "cumplimiento",
        // Agents.
        "tickets_assigned" => "casos asignados",
        "tickets_solved" => "casos resueltos",
        "replies" => "respuestas públicas",
        "calls_handled" => "llamadas atendidas",
        // Calls and staffing.
        "offered" => "llamadas ofrecidas",
        "answered" => "atendidas",
        "answered_within_target" => "atendidas dentro de T",
        "abandoned" => "abandonadas",
        "short_abandoned" => "abandonos cortos",
        "abandonment_rate" => "tasa de abandono",
        "service_level" => "nivel de servicio",
        "asa_secs" => "tiempo medio de espera (s)",
        "aht_secs" => "tiempo medio de atención (s)",
        "arrivals" => "llamadas entrantes",
        "handled" => "llamadas atendidas",
        "traffic" => "tráfico (Erlang)",
        "agents" => "agentes necesarios",
        "scheduled" => "agentes a programar",
        "probability_of_waiting" => "probabilidad de espera",
        "occupancy" => "ocupación",
        // Satisfaction survey.
        "responses" => "respuestas",
        "satisfied" => "satisfechos (6 y 7)",
        "csat" => "CSAT (%)",
        "average_score" => "nota promedio",
        "fcr_answers" => "respuestas sobre resolución",
        "fcr" => "FCR (%)",
        other => other,
    }
}

/// The (name, value) pairs of a struct, in declaration order.
fn fields<R: Serialize>(row: &R) -> Result<Vec<(&'static str, Value)>, AppError> {
    row.serialize(RowSerializer).map_err(|e| AppError::Internal(anyhow::anyhow!("CSV row: {}", e.0)))
}

#[derive(Debug)]
struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

fn not_a_struct() -> Error {
    Error("a report row must be a struct of plain fields".into())
}

/// Accepts a struct and nothing else.
struct RowSerializer;

struct Fields(Vec<(&'static str, Value)>);

type Row = Vec<(&'static str, Value)>;

macro_rules! reject {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {$(
        fn $method(self, $(_: $arg),*) -> Result<Row, Error> {
            Err(not_a_struct())
        }
    )*};
}

impl ser::Serializer for RowSerializer {
    type Ok = Row;
    type Error = Error;
    type SerializeSeq = Impossible<Row, Error>;
    type SerializeTuple = Impossible<Row, Error>;
    type SerializeTupleStruct = Impossible<Row, Error>;
    type SerializeTupleVariant = Impossible<Row, Error>;
    type SerializeMap = Impossible<Row, Error>;
    type SerializeStruct = Fields;
    type SerializeStructVariant = Impossible<Row, Error>;

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Fields, Error> {
        Ok(Fields(Vec::with_capacity(len)))
    }

    reject!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<Row, Error> {
        Err(not_a_struct())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, _: &T) -> Result<Row, Error> {
        Err(not_a_struct())
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Row, Error> {
        Err(not_a_struct())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(not_a_struct())
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(not_a_struct())
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(not_a_struct())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_a_struct())
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(not_a_struct())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_a_struct())
    }
}

impl SerializeStruct for Fields {
    type Ok = Row;
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        let value = serde_json::to_value(value).map_err(|e| Error(e.to_string()))?;
        if matches!(value, Value::Array(_) | Value::Object(_)) {
            return Err(Error(format!("field {key} is not a plain value")));
        }
        self.0.push((key, value));
        Ok(())
    }

    /// A skipped field would shift every later column: rows never skip.
    fn skip_field(&mut self, key: &'static str) -> Result<(), Error> {
        Err(Error(format!("field {key} is skipped")))
    }

    fn end(self) -> Result<Row, Error> {
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Default, Serialize)]
    struct Sample {
        name: String,
        count: u64,
        rate: Option<f64>,
    }

    #[test]
    fn rows_become_rfc_4180_text() {
        let rows = [
            Sample { name: "plain".into(), count: 3, rate: Some(0.5) },
            Sample { name: "a, \"quoted\"\nline".into(), count: 0, rate: None },
            Sample { name: "=1+2".into(), count: 1, rate: Some(-1.25) },
        ];
        assert_eq!(
            to_csv(&rows, Dialect::Rfc4180).unwrap(),
            "name,count,rate\r\nplain,3,0.5\r\n\"a, \"\"quoted\"\"\nline\",0,\r\n'=1+2,1,-1.25\r\n"
        );
        assert_eq!(to_csv::<Sample>(&[], Dialect::Rfc4180).unwrap(), "name,count,rate\r\n");
    }

    #[test]
    fn the_excel_dialect_has_a_bom_semicolons_spanish_titles_and_decimal_commas() {
        let rows = [
            Sample { name: "Pérez, Ana".into(), count: 3, rate: Some(0.5) },
            Sample { name: "uno; dos".into(), count: 0, rate: Some(-1.25) },
            Sample { name: "=1+2".into(), count: 1, rate: Some(2.0) },
            Sample { name: String::new(), count: 0, rate: Some(0.00000125) },
        ];
        assert_eq!(
            to_csv(&rows, Dialect::Excel).unwrap(),
            "\u{feff}nombre;count;rate\r\nPérez, Ana;3;0,5\r\n\"uno; dos\";0;-1,25\r\n'=1+2;1;2\r\n;0;0,00000125\r\n"
        );
        assert_eq!(to_csv::<Sample>(&[], Dialect::Excel).unwrap(), "\u{feff}nombre;count;rate\r\n");
    }

    #[test]
    fn every_column_of_every_download_has_a_spanish_title() {
        fn untitled<R: Serialize + Default>() -> Vec<&'static str> {
            fields(&R::default()).unwrap().into_iter().map(|(name, _)| name).filter(|n| title(n) == *n).collect()
        }
        use crate::reports::*;
        let missing = [
            untitled::<VolumeRow>(),
            untitled::<ResponseTimesRow>(),
            untitled::<SlaRow>(),
            untitled::<BacklogRow>(),
            untitled::<AbandonmentRow>(),
            untitled::<AgentRow>(),
            untitled::<StaffingRow>(),
            untitled::<crate::quality::csat::CsatRow>(),
        ]
        .concat();
        assert!(missing.is_empty(), "columns without a Spanish title: {missing:?}");
    }

    #[test]
    fn only_flat_structs_are_rows() {
        #[derive(Default, Serialize)]
        struct Nested {
            inner: Vec<u8>,
        }
        assert!(to_csv(&[Nested { inner: vec![1] }], Dialect::Rfc4180).is_err());
        assert!(to_csv(&[1_u8], Dialect::Excel).is_err());
    }
}
