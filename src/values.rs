//! Named value types of the OpenAPI document: the rules a request's text, ids and pages follow,
//! stated once and referenced by the request types (`#[schema(value_type = Slug)]`). They are
//! documentation only: the handlers enforce the same rules (a test walks the document with
//! schemathesis to keep the two equal, see `tests/fuzz/schemathesis.sh`).
//!
//! Patterns are ECMA-262 and spell their character classes out: `\s`, `\w` and `\d` mean different
//! things to different validators, and whitespace here is Rust's (`char::is_whitespace`), which is
//! what the handlers trim.

use std::borrow::Cow;

use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, RefOr};

/// Rust's white space (`char::is_whitespace`), as the inside of a character class.
pub const WHITE_SPACE: &str = r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// Text without NUL (U+0000): the one rule every request text follows.
pub const NO_NUL: &str = r"^[^\u0000]*$";

/// Text without NUL and with something besides white space.
pub const NOT_BLANK: &str =
    r"^[^\u0000]*[^\u0000\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000]*$";

/// Only white space (an optional field sent blank, which means absent).
pub const BLANK: &str = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";

/// `next_cursor` values: `c` and the last id seen in lower-case hex (`paging::encode_cursor`).
pub const CURSOR: &str = r"^c(?:[0-9a-f]{1,15}|[0-7][0-9a-f]{15})$";

/// Queue, category, department and calendar slugs.
pub const SLUG: &str = r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$";

/// The small email check of `text::normalize_email`: one `@`, a local part, a dotted domain that
/// neither starts nor ends with a dot, no white space or control characters; surrounding white
/// space is trimmed.
pub const EMAIL: &str = concat!(
    r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*",
    r"[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+@",
    r"[^@.\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
    r"[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\.",
    r"[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*",
    r"[^@.\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
    r"[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
);

/// A Chilean RUT as people write it (`12.345.678-5`, `123456785`, `k` or `K`), trimmed; its check
/// digit is verified by the handler.
pub const RUT: &str = concat!(
    r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*",
    r"[.\- ]*[1-9](?:[.\- ]*[0-9]){0,7}[.\- ]*[0-9kK][.\- ]*",
    r"[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
);

/// Tags and skills: 1 to 50 ASCII letters, digits, `-` and `_` (stored in lower case), trimmed.
pub const WORD: &str = concat!(
    r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[A-Za-z0-9_-]{1,50}",
    r"[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
);

/// `HH:MM`, 00:00 to 23:59.
pub const HH_MM: &str = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$";

/// A report day: `YYYY-MM-DD` between the years 1900 and 2999.
pub const REPORT_DATE: &str = r"^(?:19|2[0-9])[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$";

fn text(pattern: &str, max_length: Option<usize>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .max_length(max_length)
        .description(Some(description))
        .into()
}

/// Defines documentation-only schema types: `Name => expression building its schema`.
macro_rules! value_types {
    ($($(#[$doc:meta])* $name:ident => $schema:expr;)+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    )+};
}

value_types! {
    /// Opaque page cursor: the `next_cursor` of the previous page.
    Cursor => ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(CURSOR))
        .description(Some("The `next_cursor` of the previous page."))
        .examples([serde_json::json!("c1f")])
        .into();
    /// Items per page.
    PageSize => ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .maximum(Some(100))
        .default(Some(serde_json::json!(25)))
        .description(Some("Items per page, 1 to 100 (default 25)."))
        .into();
    /// The id of a record (positive).
    Id => ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .into();
    Slug => text(SLUG, None, "Lower-case ASCII letters, digits and `-` (not first or last), up to 60.");
    /// A name or subject: one line, not blank, up to 120 characters.
    Line120 => text(NOT_BLANK, Some(120), "Not blank, up to 120 characters (white space is collapsed).");
    Line200 => text(NOT_BLANK, Some(200), "Not blank, up to 200 characters (white space is collapsed).");
    Line500 => text(NOT_BLANK, Some(500), "Not blank, up to 500 characters (white space is collapsed).");
    /// A message: not blank, up to 50,000 characters.
    Text => text(NOT_BLANK, Some(50_000), "Not blank, up to 50,000 characters.");
    Text2000 => text(NOT_BLANK, Some(2000), "Not blank, up to 2,000 characters.");
    /// Optional text: blank means none.
    Note120 => text(NO_NUL, Some(120), "Up to 120 characters; blank means none.");
    Note200 => text(NO_NUL, Some(200), "Up to 200 characters; blank means none.");
    Note2000 => text(NO_NUL, Some(2000), "Up to 2,000 characters; blank means none.");
    /// Any text without NUL.
    FreeText => text(NO_NUL, None, "Any text without NUL (U+0000).");
    Email => text(EMAIL, Some(254), "An email address: one `@` and a dotted domain, no spaces; up to 254 characters.");
    /// An optional email: blank means none.
    EmailOrBlank => AnyOfBuilder::new()
        .item(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("Email")))
        .item(text(BLANK, None, "Blank: no email."))
        .into();
    Rut => text(RUT, None, "A Chilean RUT (`12.345.678-5`, `123456785`); its check digit must match.");
    RutOrBlank => AnyOfBuilder::new()
        .item(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("Rut")))
        .item(text(BLANK, None, "Blank: no RUT."))
        .into();
    /// Tags and skills.
    Word => text(WORD, None, "1 to 50 ASCII letters, digits, `-` and `_`; stored in lower case.");
    HourMinute => ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(HH_MM))
        .examples([serde_json::json!("09:00")])
        .into();
    ReportDate => ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some(REPORT_DATE))
        .description(Some("A day between the years 1900 and 2999."))
        .into();
    /// An instant, or a date meaning a midnight in Santiago.
    Instant => AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
        .item(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
        .description(Some("RFC 3339, or a date (`YYYY-MM-DD`) meaning midnight in Santiago."))
        .into();
    /// An IANA time zone name known to the service.
    TimeZone => ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
        .description(Some("An IANA time zone, e.g. `America/Santiago`."))
        .into();
    /// `Idempotency-Key` header values.
    IdempotencyKey => text(r"^[!-~]{1,255}$", None, "1 to 255 visible ASCII characters.");
}

/// Every value type, for the document's components.
pub fn register(components: &mut utoipa::openapi::Components) {
    use utoipa::{PartialSchema, ToSchema};
    macro_rules! add {
        ($($t:ident),+) => {$(components.schemas.insert($t::name().into_owned(), $t::schema());)+};
    }
    add!(
        Cursor,
        PageSize,
        Id,
        Slug,
        Line120,
        Line200,
        Line500,
        Text,
        Text2000,
        Note120,
        Note200,
        Note2000,
        FreeText,
        Email,
        EmailOrBlank,
        Rut,
        RutOrBlank,
        Word,
        HourMinute,
        ReportDate,
        Instant,
        TimeZone,
        IdempotencyKey
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns mean what the handlers check (spot checks; schemathesis checks the rest).
    #[test]
    fn patterns_match_the_rules() {
        let re = |p: &str| regex::Regex::new(p).unwrap();
        assert!(
            re(NOT_BLANK).is_match("Hola") && !re(NOT_BLANK).is_match(" \u{3000}\t") && !re(NOT_BLANK).is_match("a\0")
        );
        assert!(re(CURSOR).is_match(&crate::paging::encode_cursor(i64::MAX)));
        assert!(!re(CURSOR).is_match("c8000000000000000") && !re(CURSOR).is_match("cFF") && !re(CURSOR).is_match("c"));
        for email in ["ana@example.cl", " Ana.Perez@MercadoPublico.CL ", "a@b.c"] {
            assert!(re(EMAIL).is_match(email) && crate::domain::text::normalize_email(email).is_some(), "{email}");
        }
        for bad in ["", "ana", "ana@", "@x.cl", "ana@cl", "ana@x.", "a b@x.cl", "a@b@x.cl", "ana@.cl"] {
            assert!(!re(EMAIL).is_match(bad) && crate::domain::text::normalize_email(bad).is_none(), "{bad}");
        }
        for rut in ["12.345.678-5", "123456785", " 7.654.321-6 "] {
            assert!(re(RUT).is_match(rut), "{rut}");
        }
        assert!(!re(RUT).is_match("0") && !re(RUT).is_match("12345678901"));
        assert!(re(SLUG).is_match("compra-agil") && !re(SLUG).is_match("-a") && !re(SLUG).is_match(&"a".repeat(61)));
        assert!(chrono_tz::TZ_VARIANTS.iter().any(|tz| tz.name() == "America/Santiago"));
    }
}
