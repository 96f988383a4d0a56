//! An article's text in chunks the model reads whole: paragraphs packed up to
//! [`CHUNK_CHARS`], a paragraph longer than that cut on sentence (or, failing that, word)
//! boundaries, and every chunk after the first led by the article's title, so a chunk found
//! alone still says what it is about.

use crate::sync::normalize::CHUNK_CHARS;

/// The chunks of an article; at least one (the title) even for an empty text.
pub fn chunks(title: &str, text: &str) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    for para in text.split("\n\n") {
        let para = para.split_whitespace().collect::<Vec<_>>().join(" ");
        if para.is_empty() {
            continue;
        }
        if para.chars().count() <= CHUNK_CHARS {
            pieces.push(para);
        } else {
            pieces.extend(split_long(&para));
        }
    }
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for p in pieces {
        if !cur.is_empty() && cur.chars().count() + p.chars().count() + 1 > CHUNK_CHARS {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push('\n');
        }
        cur.push_str(&p);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    if out.is_empty() {
        return vec![title.to_string()];
    }
    out.into_iter()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 && !c.starts_with(title) {
                format!("{title}\n{c}")
            } else if i == 0 {
                c
            } else {
                format!("{title} (continued)\n{c}")
            }
        })
        .collect()
}

/// A paragraph longer than a chunk, cut after sentences, or between words when a sentence
/// is itself too long.
fn split_long(para: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    // A "word" longer than a chunk (a URL, minified text) is cut into chunk-sized pieces.
    let words = para.split(' ').flat_map(|w| {
        let chars: Vec<char> = w.chars().collect();
        chars
            .chunks(CHUNK_CHARS / 2)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
    });
    for word in words {
        let word = word.as_str();
        let ends_sentence = word.ends_with(['.', '!', '?']);
        if cur.chars().count() + word.chars().count() + 1 > CHUNK_CHARS && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
        // Prefer to end a piece on a sentence once it is three quarters full.
        if ends_sentence && cur.chars().count() >= CHUNK_CHARS * 3 / 4 {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_short_article_is_one_chunk_led_by_its_title() {
        let c = chunks("Reset a password", "Open settings.\n\nClick reset.");
        assert_eq!(c, vec!["Reset a password\nOpen settings.\nClick reset."]);
    }

    #[test]
    fn an_empty_article_is_its_title() {
        assert_eq!(chunks("Title only", "  \n\n "), vec!["Title only"]);
    }

    proptest! {
        #[test]
        fn no_text_is_lost_and_no_chunk_is_too_long(words in proptest::collection::vec("[a-z]{1,12}[.]?|[a-z]{900,1200}", 0..150), breaks in proptest::collection::vec(0usize..600, 0..20)) {
            let mut text = String::new();
            for (i, w) in words.iter().enumerate() {
                text.push_str(w);
                text.push_str(if breaks.contains(&i) { "\n\n" } else { " " });
            }
            let c = chunks("T", &text);
            for x in &c {
                // The title line may lead; the body never exceeds a chunk.
                let body = x.split_once('\n').map_or("", |(_, b)| b);
                prop_assert!(body.chars().count() <= CHUNK_CHARS, "{}", body.len());
            }
            // Every character arrives, in order (a long word may be cut into pieces).
            let got: String = c
                .iter()
                .flat_map(|x| x.split_once('\n').map(|(_, b)| b.to_string()))
                .collect::<String>()
                .split_whitespace()
                .collect();
            let want: String = text.split_whitespace().collect();
            prop_assert_eq!(got, want);
        }
    }
}
