//! Spellings of a token, and the reader that undoes them: shared by the
//! tests that check no output holds the access token in any spelling
//! (`#[path = "support/spelling.rs"] mod spelling;`).

/// `text` with percent escapes (`%2B`, `%2b`, `%252B`), JSON escapes (`\/`,
/// `\u002b`) and HTML character references (`&#43;`, `&#x2F;`) decoded,
/// then ASCII lower-cased: what a reader of the text could turn back into
/// the token.
pub fn decoded_lower(text: &str) -> String {
    fn once(text: &str) -> String {
        let mut out = String::new();
        let mut i = 0;
        while i < text.len() {
            let rest = &text[i..];
            let hex = |from: usize, len: usize| {
                rest.get(from..from + len)
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
            };
            let decoded = if rest.starts_with('%') {
                hex(1, 2).map(|c| (c, 3))
            } else if rest.starts_with("\\u") {
                hex(2, 4).map(|c| (c, 6))
            } else if rest.starts_with("\\/") {
                Some((u32::from(b'/'), 2))
            } else if let Some(r) = rest
                .strip_prefix("&#x")
                .or_else(|| rest.strip_prefix("&#X"))
            {
                r.find(';')
                    .filter(|&e| e <= 4)
                    .and_then(|e| u32::from_str_radix(&r[..e], 16).ok().map(|c| (c, 4 + e)))
            } else if let Some(r) = rest.strip_prefix("&#") {
                r.find(';')
                    .filter(|&e| e <= 4)
                    .and_then(|e| r[..e].parse().ok().map(|c| (c, 3 + e)))
            } else {
                None
            };
            match decoded
                .and_then(|(c, n)| char::from_u32(c).filter(char::is_ascii).map(|c| (c, n)))
            {
                Some((c, n)) => {
                    out.push(c);
                    i += n;
                }
                None => {
                    let c = rest.chars().next().unwrap();
                    out.push(c);
                    i += c.len_utf8();
                }
            }
        }
        out
    }
    let mut text = text.to_owned();
    for _ in 0..3 {
        let next = once(&text);
        if next == text {
            break;
        }
        text = next;
    }
    text.to_ascii_lowercase()
}

/// The first piece of 8 characters of `token` (all of it if shorter) that
/// `text` holds in any spelling [`decoded_lower`] undoes.
pub fn token_piece_in(token: &str, text: &str) -> Option<String> {
    let plain = decoded_lower(text);
    let lower: Vec<char> = token.to_ascii_lowercase().chars().collect();
    lower
        .windows(8.min(lower.len()))
        .map(|w| w.iter().collect::<String>())
        .find(|piece| plain.contains(piece.as_str()))
}

/// `s` with every byte but the URL-unreserved ones as `%XX`.
pub fn percent_encode(s: &str, lower_hex: bool) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ if lower_hex => format!("%{b:02x}"),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `s` with `/` as `\/` and everything but letters and digits as `\uXXXX`.
pub fn json_escape_all(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '/' => "\\/".to_owned(),
            c if c.is_ascii_alphanumeric() => c.to_string(),
            c => format!("\\u{:04x}", c as u32),
        })
        .collect()
}
