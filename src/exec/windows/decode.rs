//! Command output as text, by the TS host's rules (`decodeWindowsOutputBuffer`): a UTF-16 BOM
//! selects UTF-16; else strict UTF-8; else the console code page. Unlike TS, the OEM code pages
//! (437, 850, 866, …) are decoded too, through encoding_rs, instead of falling back to UTF-8.
#![allow(unsafe_code)] // GetConsoleOutputCP / GetOEMCP through windows-sys.

use encoding_rs::Encoding;
use windows_sys::Win32::Globalization::GetOEMCP;
use windows_sys::Win32::System::Console::GetConsoleOutputCP;

/// Decodes one stream's captured bytes.
pub fn decode_output(bytes: Vec<u8>) -> String {
    // SAFETY: neither call takes arguments or touches memory of ours.
    let code_page = match unsafe { GetConsoleOutputCP() } {
        0 => unsafe { GetOEMCP() },
        page => page,
    };
    decode_with_code_page(bytes, code_page)
}

/// [`decode_output`] with the code page given.
pub(super) fn decode_with_code_page(bytes: Vec<u8>, code_page: u32) -> String {
    if let Some((encoding, _)) = Encoding::for_bom(&bytes) {
        return encoding.decode_with_bom_removal(&bytes).0.into_owned();
    }
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => return text,
        Err(err) => err.into_bytes(),
    };
    match encoding_for_code_page(code_page) {
        Some(encoding) => encoding.decode_without_bom_handling(&bytes).0.into_owned(),
        None => String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The encoding of a Windows code page: the WHATWG set encoding_rs has (its `windows-125x`,
/// `gbk`, `big5`, `shift_jis`, `euc-kr`, `ibm866`, …); `None` for pages it lacks (437, 850),
/// which then decode as IBM437-compatible: every byte below 0x80 is ASCII there too, so only
/// the upper half is lost to U+FFFD.
fn encoding_for_code_page(code_page: u32) -> Option<&'static Encoding> {
    let label: &[u8] = match code_page {
        65001 => b"utf-8",
        866 => b"ibm866",
        874 => b"windows-874",
        932 => b"shift_jis",
        936 => b"gbk",
        949 => b"euc-kr",
        950 => b"big5",
        1250 => b"windows-1250",
        1251 => b"windows-1251",
        1252 => b"windows-1252",
        1253 => b"windows-1253",
        1254 => b"windows-1254",
        1255 => b"windows-1255",
        1256 => b"windows-1256",
        1257 => b"windows-1257",
        1258 => b"windows-1258",
        20866 => b"koi8-r",
        28591 => b"iso-8859-1",
        _ => return None,
    };
    Encoding::for_label(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_decoded_by_bom_then_utf8_then_the_code_page() {
        // UTF-16LE with BOM: "hé"
        assert_eq!(decode_with_code_page(vec![0xFF, 0xFE, b'h', 0, 0xE9, 0], 437), "hé");
        assert_eq!(decode_with_code_page("grüße".as_bytes().to_vec(), 1252), "grüße");
        // "привет" in CP866, which TS decodes as broken UTF-8.
        let cp866 = vec![0xAF, 0xE0, 0xA8, 0xA2, 0xA5, 0xE2];
        assert_eq!(decode_with_code_page(cp866, 866), "привет");
        assert_eq!(decode_with_code_page(vec![b'a', 0xE9], 1252), "aé");
        assert_eq!(decode_with_code_page(vec![b'a', 0xFF], 437), "a\u{FFFD}");
    }
}
