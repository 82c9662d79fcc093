//! Vocabulary and tokenizer as AttnGAN's: captions are lowercased and split
//! into runs of word characters (Python's `\w`: letters, digits, underscore),
//! words under a minimum count are dropped, index 0 is `<end>` (and padding).
//! We add `<unk>` at index 1 so unknown words at generation time map to it
//! and are reported, never a crash. Captions are cut or padded to a data
//! set's word limit (AttnGAN's 18 on birds, [`DEFAULT_MAX_WORDS`]; the built-in
//! world's is [`super::world::WORLD_MAX_WORDS`]); a longer one loses random
//! words, order kept. The limit travels in the model configs and checkpoints
//! (`max_words`), so every consumer uses the one the model was trained with.

use super::error::DataError;
use rand::{seq::index::sample, RngCore};
use std::collections::HashMap;

/// AttnGAN's words per caption on birds (`cfg.TEXT.WORDS_NUM`), the limit of
/// CUB and folder data sets and of checkpoints that predate the setting.
pub const DEFAULT_MAX_WORDS: usize = 18;
pub const END: u32 = 0;
pub const UNK: u32 = 1;
pub const END_WORD: &str = "<end>";
pub const UNK_WORD: &str = "<unk>";
const HEADER: &str = "engine-vocab 1";

/// Lowercase and split into runs of `\w` characters.
pub fn tokenize(caption: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in caption.chars() {
        if ch.is_alphanumeric() || ch == '_' {
            cur.extend(ch.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A caption encoded to ids, with the words the vocabulary did not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    pub unknown: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    words: Vec<String>,
    index: HashMap<String, u32>,
}

impl Vocab {
    /// Words seen at least `min_count` times in `captions`, sorted so the
    /// vocabulary does not depend on caption order.
    pub fn build<I, S>(captions: I, min_count: usize) -> Vocab
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for c in captions {
            for w in tokenize(c.as_ref()) {
                *counts.entry(w).or_default() += 1;
            }
        }
        let mut kept: Vec<String> = counts
            .into_iter()
            .filter(|(_, n)| *n >= min_count.max(1))
            .map(|(w, _)| w)
            .collect();
        kept.sort();
        Vocab::from_words(kept)
    }

    fn from_words(words: impl IntoIterator<Item = String>) -> Vocab {
        let mut all = vec![END_WORD.to_string(), UNK_WORD.to_string()];
        all.extend(words.into_iter().filter(|w| w != END_WORD && w != UNK_WORD));
        let index = all
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        Vocab { words: all, index }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.len() <= 2
    }

    pub fn word(&self, id: u32) -> &str {
        self.words
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or(UNK_WORD)
    }

    pub fn id(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Encode a caption; unknown words become [`UNK`] and are listed.
    pub fn encode(&self, caption: &str) -> Encoded {
        let mut ids = Vec::new();
        let mut unknown = Vec::new();
        for w in tokenize(caption) {
            match self.index.get(&w) {
                Some(&i) => ids.push(i),
                None => {
                    ids.push(UNK);
                    unknown.push(w);
                }
            }
        }
        Encoded { ids, unknown }
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .take_while(|&&i| i != END)
            .map(|&i| self.word(i))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A plain text form, one word per line after a header line, for
    /// checkpoint metadata. Words never contain whitespace (they are `\w`
    /// runs), so lines are unambiguous.
    pub fn to_text(&self) -> String {
        let mut s = String::from(HEADER);
        s.push('\n');
        for w in &self.words[2..] {
            s.push_str(w);
            s.push('\n');
        }
        s
    }

    pub fn from_text(text: &str) -> Result<Vocab, DataError> {
        let mut lines = text.lines();
        match lines.next() {
            Some(h) if h.trim() == HEADER => {}
            other => {
                return Err(DataError::Vocab(format!(
                    "first line is {other:?}, expected {HEADER:?}"
                )))
            }
        }
        let mut words = Vec::new();
        for (n, l) in lines.enumerate() {
            if l.is_empty() {
                continue;
            }
            if tokenize(l) != [l.to_string()] {
                return Err(DataError::Vocab(format!(
                    "line {}: {l:?} is not a word",
                    n + 2
                )));
            }
            words.push(l.to_string());
        }
        Ok(Vocab::from_words(words))
    }

    /// Tokenize, encode and fit to `max_words` in one go.
    pub fn encode_fixed(&self, caption: &str, max_words: usize, rng: &mut dyn RngCore) -> Fixed {
        let enc = self.encode(caption);
        let (ids, len) = fit_length(&enc.ids, max_words, rng);
        Fixed {
            ids,
            len,
            unknown: enc.unknown,
        }
    }
}

/// A caption as the text encoder takes it: `max_words` ids, 0-padded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fixed {
    pub ids: Vec<u32>,
    /// True length (<= max_words); at least 1 for a non-empty caption.
    pub len: usize,
    pub unknown: Vec<String>,
}

/// AttnGAN's cut: keep `max_words` randomly chosen words in their order if
/// longer, pad with [`END`] if shorter. Returns the ids (`max_words` of them)
/// and the true length.
pub fn fit_length(ids: &[u32], max_words: usize, rng: &mut dyn RngCore) -> (Vec<u32>, usize) {
    let mut out = vec![END; max_words];
    if ids.len() <= max_words {
        out[..ids.len()].copy_from_slice(ids);
        return (out, ids.len());
    }
    let mut keep = sample(rng, ids.len(), max_words).into_vec();
    keep.sort_unstable();
    for (o, k) in out.iter_mut().zip(keep) {
        *o = ids[k];
    }
    (out, max_words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenize_like_python_w() {
        assert_eq!(
            tokenize("A Bird's wing_span: 12cm, Über-cool!"),
            ["a", "bird", "s", "wing_span", "12cm", "über", "cool"]
        );
        assert!(tokenize("  ,.; ").is_empty());
    }
}
