//! A tiny reader for the one kind of pickle AttnGAN ships: a Python list of
//! str (`train/filenames.pickle`), protocols 0..=4 as Python 2 and 3 write
//! them (unicode or byte strings, memo puts, batched appends, frames). Any
//! other opcode is refused with a message naming it; the fix is to write the
//! names one per line into `filenames.txt` beside the pickle, which is read
//! instead when present.

/// Parse a pickled list of strings.
pub fn read_str_list(bytes: &[u8]) -> Result<Vec<String>, String> {
    let mut stack: Vec<Vec<String>> = Vec::new(); // MARK frames of pending items
    let mut list: Option<Vec<String>> = None;
    let mut pending: Vec<String> = Vec::new();
    let mut i = 0usize;
    let take = |i: &mut usize, n: usize| -> Result<&[u8], String> {
        let s = bytes
            .get(*i..*i + n)
            .ok_or_else(|| format!("truncated at byte {}", *i))?;
        *i += n;
        Ok(s)
    };
    let text = |b: &[u8]| -> Result<String, String> {
        String::from_utf8(b.to_vec()).map_err(|_| "a name is not UTF-8".to_string())
    };
    loop {
        let op = *bytes.get(i).ok_or("no STOP opcode (truncated file)")?;
        i += 1;
        match op {
            0x80 => {
                take(&mut i, 1)?; // PROTO n
            }
            0x95 => {
                take(&mut i, 8)?; // FRAME len
            }
            b']' => list = Some(Vec::new()), // EMPTY_LIST
            b'(' => stack.push(std::mem::take(&mut pending)), // MARK
            b'X' => {
                // BINUNICODE u32 len
                let n = u32::from_le_bytes(take(&mut i, 4)?.try_into().unwrap()) as usize;
                pending.push(text(take(&mut i, n)?)?);
            }
            0x8c | b'U' => {
                // SHORT_BINUNICODE / SHORT_BINSTRING u8 len
                let n = take(&mut i, 1)?[0] as usize;
                pending.push(text(take(&mut i, n)?)?);
            }
            b'T' => {
                // BINSTRING i32 len
                let n = u32::from_le_bytes(take(&mut i, 4)?.try_into().unwrap()) as usize;
                pending.push(text(take(&mut i, n)?)?);
            }
            b'q' => {
                take(&mut i, 1)?; // BINPUT
            }
            b'r' => {
                take(&mut i, 4)?; // LONG_BINPUT
            }
            0x94 => {} // MEMOIZE
            b'a' => {
                // APPEND
                let v = pending.pop().ok_or("APPEND without an item")?;
                list.as_mut().ok_or("APPEND without a list")?.push(v);
            }
            b'e' => {
                // APPENDS: items since MARK
                let items =
                    std::mem::replace(&mut pending, stack.pop().ok_or("APPENDS without MARK")?);
                list.as_mut().ok_or("APPENDS without a list")?.extend(items);
            }
            b'.' => return list.ok_or_else(|| "the pickle holds no list".to_string()),
            other => {
                return Err(format!(
                    "unsupported pickle opcode 0x{other:02x} at byte {}",
                    i - 1
                ))
            }
        }
    }
}

/// Write a list of str as Python 3 does with protocol 2 (used by tests
/// and to convert plain lists for tools that want a pickle).
pub fn write_str_list(names: &[&str]) -> Vec<u8> {
    let mut out = vec![0x80, 2, b']', b'q', 0];
    let mut memo = 1u32;
    for chunk in names.chunks(1000) {
        out.push(b'(');
        for n in chunk {
            out.push(b'X');
            out.extend_from_slice(&(n.len() as u32).to_le_bytes());
            out.extend_from_slice(n.as_bytes());
            if memo < 256 {
                out.extend_from_slice(&[b'q', memo as u8]);
            } else {
                out.push(b'r');
                out.extend_from_slice(&memo.to_le_bytes());
            }
            memo += 1;
        }
        out.push(b'e');
    }
    out.push(b'.');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python3_protocol2_bytes() {
        // pickle.dumps(['001.A/x_1', 'b'], protocol=2)
        let b = b"\x80\x02]q\x00(X\t\x00\x00\x00001.A/x_1q\x01X\x01\x00\x00\x00bq\x02e.";
        assert_eq!(read_str_list(b).unwrap(), ["001.A/x_1", "b"]);
        let names: Vec<String> = (0..1500).map(|i| format!("c/{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(read_str_list(&write_str_list(&refs)).unwrap(), names);
        // Python 2 protocol 2 byte strings, single APPEND.
        assert_eq!(
            read_str_list(b"\x80\x02]q\x00U\x01aq\x01a.").unwrap(),
            ["a"]
        );
        assert!(read_str_list(b"\x80\x02]q\x00(X\x05\x00").is_err());
    }
}
