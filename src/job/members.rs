//! The members of a job message as they were written, read in one pass over
//! the body: each kept as the kind of value it is (a string, a boolean,
//! null, the object `image` must be, or the raw JSON the event echoes), so
//! the parser can say which one is wrong, with no generic tree and no copy
//! of a string that needs no unescaping.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// A member: `None` when absent, its value (null included) when present.
pub(super) struct Member<T>(pub Option<T>);

impl<T> Default for Member<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Member<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(|value| Self(Some(value)))
    }
}

/// The members of a job, and those of a CloudEvents envelope around it.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Members<'a> {
    #[serde(borrow)]
    pub action: Member<Scalar<'a>>,
    #[serde(borrow)]
    pub job_id: Member<Scalar<'a>>,
    #[serde(borrow)]
    pub face_group_code: Member<Scalar<'a>>,
    #[serde(borrow)]
    pub merchant_user_id: Member<Scalar<'a>>,
    #[serde(borrow)]
    pub image: Member<Image<'a>>,
    #[serde(borrow)]
    pub face_quality_check: Member<Scalar<'a>>,
    #[serde(borrow)]
    pub on_existing: Member<Scalar<'a>>,
    #[serde(borrow)]
    pub metadata: Member<&'a RawValue>,
    pub specversion: Member<IgnoredAny>,
    pub id: Member<IgnoredAny>,
    pub source: Member<IgnoredAny>,
    #[serde(rename = "type")]
    pub kind: Member<IgnoredAny>,
    #[serde(borrow)]
    pub data: Member<&'a RawValue>,
    #[serde(borrow)]
    pub data_base64: Member<Scalar<'a>>,
}

/// The members of `image`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ImageMembers<'a> {
    #[serde(borrow)]
    pub url: Member<Scalar<'a>>,
    #[serde(borrow)]
    pub key: Member<Scalar<'a>>,
    #[serde(borrow)]
    pub base64: Member<Scalar<'a>>,
    #[serde(borrow)]
    pub send_as_url: Member<Scalar<'a>>,
}

/// `image`: its members when it is an object.
pub(super) enum Image<'a> {
    /// An object.
    Object(ImageMembers<'a>),
    /// `null`.
    Null,
    /// Anything else.
    Other,
}

/// A member's value, by kind.
pub(super) enum Scalar<'a> {
    /// A string, borrowed from the body unless it had escapes.
    Str(Cow<'a, str>),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A number, an array or an object.
    Other,
}

impl<'a> Scalar<'a> {
    /// The string of a string member: `Ok(None)` when absent or null, `Err`
    /// when it is another kind.
    pub fn string(member: &Member<Self>) -> Result<Option<&Cow<'a, str>>, ()> {
        match &member.0 {
            None | Some(Self::Null) => Ok(None),
            Some(Self::Str(text)) => Ok(Some(text)),
            Some(_) => Err(()),
        }
    }

    /// A boolean member, false when absent or null; `Err` for another kind.
    pub fn flag(member: &Member<Self>) -> Result<bool, ()> {
        match member.0 {
            None | Some(Self::Null) => Ok(false),
            Some(Self::Bool(b)) => Ok(b),
            Some(_) => Err(()),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Image<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ImageVisitor(PhantomData))
    }
}

struct ScalarVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
    type Value = Scalar<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| Scalar::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map).map(|()| Scalar::Other)
    }
}

struct ImageVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ImageVisitor<'a> {
    type Value = Image<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        ImageMembers::deserialize(MapAccessDeserializer::new(map)).map(Image::Object)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Image::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Image::Other)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Image::Null)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Image::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Image::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Image::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| Image::Other)
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}
