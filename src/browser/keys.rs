//! Keyboard chords (`Control+Shift+T`, `Enter`, `a`) as CDP `Input.dispatchKeyEvent` params.

use serde_json::{json, Value};

/// CDP modifier bit for Alt.
pub const ALT: u8 = 1;
/// CDP modifier bit for Control.
pub const CONTROL: u8 = 2;
/// CDP modifier bit for Meta.
pub const META: u8 = 4;
/// CDP modifier bit for Shift.
pub const SHIFT: u8 = 8;

/// One key as CDP wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDef {
    pub key: String,
    pub code: String,
    pub key_code: u32,
    /// The character the key types, if any.
    pub text: Option<String>,
}

/// A parsed chord: modifier keys held, then one key pressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chord {
    pub modifiers: Vec<(u8, KeyDef)>,
    pub key: KeyDef,
}

/// TS `normalizePressKeyChord`: `" "` is Space, and the aliases Esc, Return, Del, Ctrl, Cmd,
/// Space map to their names.
pub fn normalize_chord(raw: &str) -> String {
    if raw == " " {
        return "Space".to_string();
    }
    raw.trim()
        .split('+')
        .map(|part| match part.to_ascii_lowercase().as_str() {
            "esc" => "Escape".to_string(),
            "return" => "Enter".to_string(),
            "del" => "Delete".to_string(),
            "ctrl" => "Control".to_string(),
            "cmd" => "Meta".to_string(),
            "space" => "Space".to_string(),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("+")
}

fn modifier(name: &str) -> Option<(u8, KeyDef)> {
    let (bit, key, code, key_code) = match name {
        "Alt" => (ALT, "Alt", "AltLeft", 18),
        "Control" | "ControlOrMeta" => (CONTROL, "Control", "ControlLeft", 17),
        "Meta" => (META, "Meta", "MetaLeft", 91),
        "Shift" => (SHIFT, "Shift", "ShiftLeft", 16),
        _ => return None,
    };
    Some((
        bit,
        KeyDef {
            key: key.into(),
            code: code.into(),
            key_code,
            text: None,
        },
    ))
}

/// The definition of a named key or a single character.
pub fn key_def(name: &str) -> Option<KeyDef> {
    let named = |key: &str, code: &str, key_code: u32, text: Option<&str>| {
        Some(KeyDef {
            key: key.into(),
            code: code.into(),
            key_code,
            text: text.map(str::to_string),
        })
    };
    match name {
        "Enter" => return named("Enter", "Enter", 13, Some("\r")),
        "Tab" => return named("Tab", "Tab", 9, None),
        "Escape" => return named("Escape", "Escape", 27, None),
        "Backspace" => return named("Backspace", "Backspace", 8, None),
        "Delete" => return named("Delete", "Delete", 46, None),
        "Insert" => return named("Insert", "Insert", 45, None),
        "ArrowLeft" => return named("ArrowLeft", "ArrowLeft", 37, None),
        "ArrowUp" => return named("ArrowUp", "ArrowUp", 38, None),
        "ArrowRight" => return named("ArrowRight", "ArrowRight", 39, None),
        "ArrowDown" => return named("ArrowDown", "ArrowDown", 40, None),
        "Home" => return named("Home", "Home", 36, None),
        "End" => return named("End", "End", 35, None),
        "PageUp" => return named("PageUp", "PageUp", 33, None),
        "PageDown" => return named("PageDown", "PageDown", 34, None),
        "Space" => return named(" ", "Space", 32, Some(" ")),
        _ => {}
    }
    if let Some((_, def)) = modifier(name) {
        return Some(def);
    }
    if let Some(n) = name
        .strip_prefix('F')
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=12).contains(n))
    {
        return Some(KeyDef {
            key: name.into(),
            code: name.into(),
            key_code: 111 + n,
            text: None,
        });
    }
    let mut chars = name.chars();
    let (Some(ch), None) = (chars.next(), chars.next()) else {
        return None;
    };
    Some(char_def(ch))
}

/// A printable character: US-layout code and virtual key code where there is one.
pub fn char_def(ch: char) -> KeyDef {
    let (code, key_code) = if ch.is_ascii_alphabetic() {
        (
            format!("Key{}", ch.to_ascii_uppercase()),
            ch.to_ascii_uppercase() as u32,
        )
    } else if ch.is_ascii_digit() {
        (format!("Digit{ch}"), ch as u32)
    } else if ch == ' ' {
        ("Space".to_string(), 32)
    } else {
        (String::new(), 0)
    };
    KeyDef {
        key: ch.to_string(),
        code,
        key_code,
        text: Some(ch.to_string()),
    }
}

/// Parses a normalized chord. The last part is the key; a lone `+` is the plus key.
pub fn parse_chord(chord: &str) -> Result<Chord, String> {
    let mut parts: Vec<&str> = chord.split('+').collect();
    // "Control++" splits into ["Control", "", ""]: the key is "+".
    let key_name = if chord.ends_with('+') && parts.len() >= 2 && parts[parts.len() - 1].is_empty()
    {
        parts.truncate(parts.len().saturating_sub(2));
        "+"
    } else {
        parts.pop().unwrap_or("")
    };
    let mut modifiers = Vec::new();
    for part in parts {
        let def = modifier(part).ok_or_else(|| format!("Unknown key: \"{part}\""))?;
        modifiers.push(def);
    }
    let key = key_def(key_name).ok_or_else(|| format!("Unknown key: \"{key_name}\""))?;
    Ok(Chord { modifiers, key })
}

/// `Input.dispatchKeyEvent` params for one key going down (`down = true`) or up. Text is only
/// typed when no command modifier (Control, Alt, Meta) is held.
pub fn key_event(def: &KeyDef, down: bool, modifiers: u8) -> Value {
    let typed = def
        .text
        .as_deref()
        .filter(|_| modifiers & (CONTROL | ALT | META) == 0);
    let kind = match (down, typed) {
        (false, _) => "keyUp",
        (true, Some(_)) => "keyDown",
        (true, None) => "rawKeyDown",
    };
    let mut event = json!({
        "type": kind,
        "modifiers": modifiers,
        "key": def.key,
        "code": def.code,
        "windowsVirtualKeyCode": def.key_code,
        "nativeVirtualKeyCode": def.key_code,
    });
    if let (true, Some(text)) = (down, typed) {
        event["text"] = json!(text);
        event["unmodifiedText"] = json!(text);
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_normalize_like_ts() {
        assert_eq!(normalize_chord(" "), "Space");
        assert_eq!(normalize_chord("ctrl+shift+t"), "Control+shift+t");
        assert_eq!(normalize_chord("Esc"), "Escape");
        assert_eq!(normalize_chord(" Return "), "Enter");
        assert_eq!(normalize_chord("cmd+Del"), "Meta+Delete");
    }

    #[test]
    fn chords_parse_to_modifiers_and_key() {
        let chord = parse_chord("Control+Shift+T").unwrap();
        assert_eq!(
            chord.modifiers.iter().fold(0, |bits, (bit, _)| bits | bit),
            CONTROL | SHIFT
        );
        assert_eq!(chord.key.code, "KeyT");
        assert_eq!(chord.key.key_code, 84);
        assert_eq!(
            parse_chord("Enter").unwrap().key.text.as_deref(),
            Some("\r")
        );
        assert_eq!(parse_chord("Control++").unwrap().key.key, "+");
        assert_eq!(parse_chord("F5").unwrap().key.key_code, 116);
        assert_eq!(
            parse_chord("Hyper+x").unwrap_err(),
            "Unknown key: \"Hyper\""
        );
        assert_eq!(
            parse_chord("Banana").unwrap_err(),
            "Unknown key: \"Banana\""
        );
    }

    #[test]
    fn command_modifiers_suppress_text() {
        let a = char_def('a');
        assert_eq!(key_event(&a, true, 0)["type"], "keyDown");
        assert_eq!(key_event(&a, true, 0)["text"], "a");
        let ctrl_a = key_event(&a, true, CONTROL);
        assert_eq!(ctrl_a["type"], "rawKeyDown");
        assert!(ctrl_a.get("text").is_none());
        assert_eq!(key_event(&a, false, 0)["type"], "keyUp");
    }
}
