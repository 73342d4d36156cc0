//! CSV for any report: rows are flat structs, and serde gives their field names (the header) and
//! values in declaration order. RFC 4180: CRLF line ends, a field is quoted when it holds a comma,
//! a quote or a line break, and quotes inside are doubled.

use serde::ser::{self, Impossible, Serialize, SerializeStruct};
use serde_json::Value;

use crate::error::AppError;

/// The rows as CSV text with a header row. The header comes from `R::default()`, so an empty
/// report still names its columns.
pub fn to_csv<R: Serialize + Default>(rows: &[R]) -> Result<String, AppError> {
    let header = fields(&R::default())?;
    let mut out = String::new();
    write_line(&mut out, header.iter().map(|(name, _)| (*name).to_owned()));
    for row in rows {
        write_line(&mut out, fields(row)?.into_iter().map(|(_, value)| cell(value)));
    }
    Ok(out)
}

fn write_line(out: &mut String, cells: impl Iterator<Item = String>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if cell.contains([',', '"', '\r', '\n']) {
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
/// named "=HYPERLINK(…)") gets a leading apostrophe; numbers are never touched.
fn cell(value: Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        Value::String(s) => s,
        other => other.to_string(),
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
            to_csv(&rows).unwrap(),
            "name,count,rate\r\nplain,3,0.5\r\n\"a, \"\"quoted\"\"\nline\",0,\r\n'=1+2,1,-1.25\r\n"
        );
        assert_eq!(to_csv::<Sample>(&[]).unwrap(), "name,count,rate\r\n");
    }

    #[test]
    fn only_flat_structs_are_rows() {
        #[derive(Default, Serialize)]
        struct Nested {
            inner: Vec<u8>,
        }
        assert!(to_csv(&[Nested { inner: vec![1] }]).is_err());
        assert!(to_csv(&[1_u8]).is_err());
    }
}
