//! WGSL kernels: the sources in shaders/, a small readable templating step,
//! and compiled pipelines cached per device.
//!
//! Templating, on top of plain WGSL:
//! - `{{KEY}}` is replaced by the value of define KEY (an expression, a type, a number);
//! - lines `//#if KEY`, `//#else`, `//#endif` keep or drop blocks: KEY is true when
//!   its define is `1` or `true`. Blocks nest;
//! - a line `//#include NAME` is replaced, first, by the fragment `shaders/NAME.wgsl`
//!   (see [`FRAGMENTS`]): code a few kernels share.
//!
//! `shaders/common.wgsl` is prepended to every kernel: it holds the helpers
//! shared by all of them (grid folding).

use super::error::{Error, Result};

/// (name, WGSL source) pairs of the files in shaders/.
macro_rules! shaders {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../shaders/", $name, ".wgsl")))),*]
    };
}

/// Every kernel family, by file name in shaders/.
pub const SHADERS: &[(&str, &str)] = shaders![
    "fill",
    "unary",
    "binary",
    "reduce",
    "matmul",
    "matmul_tiled",
    "matmul_smallk",
    "conv2d",
    "conv2d_backward_data",
    "conv2d_backward_weight",
    "axpby",
    "adam",
    "bench",
    "activation_backward",
    "glu",
    "upsample",
    "concat",
    "pool",
    "bce",
    "log_softmax",
    "cross_entropy",
    "cosine",
    "batch_norm",
    "batch_norm_backward",
    "batch_norm_eval",
    "attention",
    "attention_backward",
    "attention_backward_words",
    "attention_softmax",
    "attention_vec4",
    "embedding",
    "dropout",
    "lstm_cell",
    "lstm_cell_backward",
    "swap01",
    "transpose",
    "pad2d",
    "conv_tiled",
    "rgba",
];

/// Pieces shared by a few kernels, pulled in by a line `//#include NAME`
/// (before templating, so their `{{KEY}}` and `//#if` follow the kernel's defines).
pub const FRAGMENTS: &[(&str, &str)] =
    shaders!["batch_norm_reduce", "gemm_tile", "gemm_subgroup", "vec4"];

/// Replaces each `//#include NAME` line by the fragment of that name, whose
/// own includes are expanded in turn (to a depth of 4: no cycles).
fn expand_includes(text: &str) -> std::result::Result<String, String> {
    expand_includes_at(text, 0)
}

fn expand_includes_at(text: &str, depth: usize) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(text.len());
    for (lineno, line) in text.lines().enumerate() {
        match line.trim().strip_prefix("//#include ") {
            Some(name) => {
                let (_, frag) =
                    FRAGMENTS
                        .iter()
                        .find(|(n, _)| *n == name.trim())
                        .ok_or(format!(
                            "line {}: no fragment {name:?} in shaders/",
                            lineno + 1
                        ))?;
                if depth >= 4 {
                    return Err(format!(
                        "line {}: fragments nested too deep at {name:?}",
                        lineno + 1
                    ));
                }
                out.push_str(&expand_includes_at(frag, depth + 1)?);
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

pub const COMMON: &str = include_str!("../../shaders/common.wgsl");

/// One specialisation of one kernel family.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KernelSpec {
    pub name: &'static str,
    pub defines: Vec<(&'static str, String)>,
}

impl KernelSpec {
    pub fn new(name: &'static str) -> Self {
        KernelSpec {
            name,
            defines: Vec::new(),
        }
    }

    pub fn define(mut self, key: &'static str, value: impl ToString) -> Self {
        self.defines.push((key, value.to_string()));
        self
    }

    /// Cache key and pipeline label: `matmul[A_T=0,B_T=1]`.
    pub fn key(&self) -> String {
        let mut d: Vec<String> = self
            .defines
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        d.sort();
        format!("{}[{}]", self.name, d.join(","))
    }

    /// The WGSL text of this specialisation.
    pub fn source(&self) -> Result<String> {
        let (_, text) = SHADERS
            .iter()
            .find(|(n, _)| *n == self.name)
            .ok_or_else(|| Error::Kernel {
                name: self.name.to_string(),
                message: "no such shader in shaders/".into(),
            })?;
        let body = expand_includes(text)
            .and_then(|t| render(&t, &self.defines))
            .map_err(|message| Error::Kernel {
                name: self.key(),
                message,
            })?;
        Ok(format!("{COMMON}\n{body}"))
    }
}

/// Applies the templating rules above.
pub fn render(
    text: &str,
    defines: &[(&'static str, String)],
) -> std::result::Result<String, String> {
    let lookup = |key: &str| {
        defines
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    };
    let mut out = String::with_capacity(text.len());
    // Each entry: (this block is kept, the enclosing block is kept).
    let mut stack: Vec<(bool, bool)> = Vec::new();
    let live = |stack: &[(bool, bool)]| stack.last().map(|&(k, p)| k && p).unwrap_or(true);
    for (lineno, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(key) = t.strip_prefix("//#if ") {
            let key = key.trim();
            let value =
                lookup(key).ok_or(format!("line {}: //#if {key} has no define", lineno + 1))?;
            let parent = live(&stack);
            stack.push((value == "1" || value == "true", parent));
        } else if t == "//#else" {
            let top = stack
                .last_mut()
                .ok_or(format!("line {}: //#else without //#if", lineno + 1))?;
            top.0 = !top.0;
        } else if t == "//#endif" {
            stack
                .pop()
                .ok_or(format!("line {}: //#endif without //#if", lineno + 1))?;
        } else if live(&stack) {
            let mut rest = line;
            while let Some(start) = rest.find("{{") {
                let end = rest[start..]
                    .find("}}")
                    .ok_or(format!("line {}: unclosed {{{{", lineno + 1))?;
                let key = &rest[start + 2..start + end];
                let value = lookup(key)
                    .ok_or(format!("line {}: {{{{{key}}}}} has no define", lineno + 1))?;
                out.push_str(&rest[..start]);
                out.push_str(value);
                rest = &rest[start + end + 2..];
            }
            out.push_str(rest);
            out.push('\n');
        }
    }
    if !stack.is_empty() {
        return Err("//#if without //#endif".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn templating_substitutes_and_selects_blocks() {
        let text = "a {{X}} b\n//#if F\nyes\n//#if G\nboth\n//#endif\n//#else\nno\n//#endif\nend\n";
        let d = |f: &str, g: &str| {
            vec![
                ("X", "7".to_string()),
                ("F", f.to_string()),
                ("G", g.to_string()),
            ]
        };
        assert_eq!(
            render(text, &d("1", "1")).unwrap(),
            "a 7 b\nyes\nboth\nend\n"
        );
        assert_eq!(render(text, &d("1", "0")).unwrap(), "a 7 b\nyes\nend\n");
        assert_eq!(render(text, &d("0", "1")).unwrap(), "a 7 b\nno\nend\n");
        assert!(render("{{Y}}", &[]).is_err());
        assert!(render("//#if F\n", &d("1", "1")).is_err());
    }

    #[test]
    fn includes_pull_in_fragments_and_name_unknown_ones() {
        let text = super::expand_includes("a\n//#include batch_norm_reduce\nb\n").unwrap();
        assert!(
            text.starts_with("a\n") && text.contains("fn channel_sum") && text.ends_with("b\n")
        );
        // Its own include (the vec4 fragment) is expanded too.
        assert!(text.contains("alias V = vec4<f32>"));
        assert!(!text.lines().any(|l| l.trim().starts_with("//#include")));
        let e = super::expand_includes("//#include nothing_here\n").unwrap_err();
        assert!(e.contains("nothing_here"), "{e}");
    }
}
