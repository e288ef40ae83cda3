//! `text_enum!`: an enum whose values are stored in D1 and shown in the API as fixed names
//! (`server_type`, `connection_status`, an execution's `status`).
//!
//! Invariants:
//! - Each value has exactly one name, given once: `as_str`, `parse`, `Display` and serde
//!   (both ways) all use it, so a row written with `as_str` reads back as the same value and
//!   the JSON shows the same text the row stores.
//! - `ALL` lists the values in declaration order (the order error messages list them in).

/// Declares `enum $name { $variant = "text", … }` with `ALL`, `as_str`, `parse`, `Display` and
/// serde as the texts. See the module doc.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and shown name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value named `text` exactly (case-sensitive), if any.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// Every name, in declaration order, for "must be one of" messages.
            pub fn names() -> Vec<&'static str> {
                Self::ALL.iter().map(|v| v.as_str()).collect()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    text_enum! {
        enum Colour {
            Red = "red",
            DarkBlue = "dark_blue",
        }
    }

    #[test]
    fn names_round_trip_through_parse_display_and_serde() {
        for c in Colour::ALL {
            assert_eq!(Colour::parse(c.as_str()), Some(*c));
            assert_eq!(c.to_string(), c.as_str());
            let json = serde_json::to_value(c).unwrap();
            assert_eq!(json, serde_json::Value::from(c.as_str()));
            assert_eq!(serde_json::from_value::<Colour>(json).unwrap(), *c);
        }
        assert_eq!(Colour::names(), ["red", "dark_blue"]);
        assert_eq!(Colour::parse("Red"), None);
        assert!(serde_json::from_str::<Colour>("\"blue\"").is_err());
    }
}
