//! gzip exactly as Terraform's `base64gzip` writes it: Go's
//! `compress/gzip` writer at the default level (6), one `Write`, `Flush`,
//! `Close`.
//!
//! Any deflate stream decompresses to the same text, but the bytes differ
//! between compressors, and `base64gzip` results end up in arguments
//! (`user_data`) that a plan compares: the text must be Terraform's byte for
//! byte. So this is Go's compressor, re-implemented from its description
//! (`compress/flate`: `deflate.go` lazy matching with hash chains,
//! `huffman_code.go` length-limited codes, `huffman_bit_writer.go` block
//! choice), not zlib's: the same hash (4 bytes, 17 bits), the same lazy
//! matching parameters for level 6 (good 8, lazy 16, nice 128, chain 128),
//! blocks of at most 16,384 tokens, each written as the smallest of stored,
//! fixed or dynamic Huffman, with Go's own code-length algorithm (its tie
//! order decides the codes).

const WINDOW_SIZE: usize = 1 << 15;
const WINDOW_MASK: usize = WINDOW_SIZE - 1;
const MIN_MATCH: usize = 4;
const MAX_MATCH: usize = 258;
const HASH_BITS: u32 = 17;
const HASH_SIZE: usize = 1 << HASH_BITS;
const HASH_MUL: u32 = 0x1e35a7bd;
const MAX_HASH_OFFSET: usize = 1 << 24;
const MAX_BLOCK_TOKENS: usize = 1 << 14;
const MAX_STORE_BLOCK: usize = 65535;
const END_BLOCK: u16 = 256;
const LITERALS: usize = 286;
const OFFSET_CODES: usize = 30;
const CODEGEN_CODES: usize = 19;
/// Level 6.
const GOOD: usize = 8;
const LAZY: usize = 16;
const NICE: usize = 128;
const CHAIN: usize = 128;

const CODEGEN_ORDER: [usize; CODEGEN_CODES] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];
/// Deflate's length codes 257..=285: first length, extra bits.
const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Deflate's distance codes 0..=29.
const OFFSET_BASE: [u32; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const OFFSET_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// `text` as Go's gzip writer leaves it after `Write(text)`, `Flush()`,
/// `Close()`: header (no name, no time, OS unknown), deflate data, CRC-32,
/// length.
pub(super) fn gzip(text: &[u8]) -> Vec<u8> {
    let mut d = Deflater::new();
    d.write(text);
    d.sync = true;
    d.deflate();
    // Flush: an empty stored block; Close: the final one.
    d.out.stored_header(0, false);
    d.out.align();
    d.out.stored_header(0, true);
    d.out.align();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.append(&mut d.out.bytes);
    let mut crc = flate2::Crc::new();
    crc.update(text);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out
}

#[derive(Clone, Copy)]
enum Token {
    Literal(u8),
    /// Length 3..=258, distance 1..=32768.
    Match(u16, u32),
    End,
}

struct Deflater {
    window: Vec<u8>,
    window_end: usize,
    index: usize,
    block_start: usize,
    hash_head: Vec<u32>,
    hash_prev: Vec<u32>,
    hash_offset: usize,
    chain_head: isize,
    length: usize,
    offset: usize,
    byte_available: bool,
    max_insert_index: usize,
    sync: bool,
    tokens: Vec<Token>,
    out: BitWriter,
}

fn hash4(b: &[u8]) -> usize {
    let v = u32::from(b[3]) | u32::from(b[2]) << 8 | u32::from(b[1]) << 16 | u32::from(b[0]) << 24;
    (v.wrapping_mul(HASH_MUL) >> (32 - HASH_BITS)) as usize
}

impl Deflater {
    fn new() -> Deflater {
        Deflater {
            window: vec![0; 2 * WINDOW_SIZE],
            window_end: 0,
            index: 0,
            block_start: 0,
            hash_head: vec![0; HASH_SIZE],
            hash_prev: vec![0; WINDOW_SIZE],
            hash_offset: 1,
            chain_head: -1,
            length: MIN_MATCH - 1,
            offset: 0,
            byte_available: false,
            max_insert_index: 0,
            sync: false,
            tokens: Vec::with_capacity(MAX_BLOCK_TOKENS + 1),
            out: BitWriter::default(),
        }
    }

    fn write(&mut self, mut b: &[u8]) {
        while !b.is_empty() {
            self.deflate();
            let n = self.fill(b);
            b = &b[n..];
        }
    }

    /// Copies input into the window, first sliding it by half when the
    /// lookahead no longer fits.
    fn fill(&mut self, b: &[u8]) -> usize {
        if self.index >= 2 * WINDOW_SIZE - (MIN_MATCH + MAX_MATCH) {
            self.window.copy_within(WINDOW_SIZE.., 0);
            self.index -= WINDOW_SIZE;
            self.window_end -= WINDOW_SIZE;
            self.block_start = if self.block_start >= WINDOW_SIZE {
                self.block_start - WINDOW_SIZE
            } else {
                usize::MAX
            };
            self.hash_offset += WINDOW_SIZE;
            if self.hash_offset > MAX_HASH_OFFSET {
                let delta = self.hash_offset - 1;
                self.hash_offset -= delta;
                self.chain_head -= delta as isize;
                for v in self.hash_prev.iter_mut().chain(self.hash_head.iter_mut()) {
                    *v = if *v as usize > delta {
                        (*v as usize - delta) as u32
                    } else {
                        0
                    };
                }
            }
        }
        let n = b.len().min(self.window.len() - self.window_end);
        self.window[self.window_end..self.window_end + n].copy_from_slice(&b[..n]);
        self.window_end += n;
        n
    }

    fn insert_hash(&mut self, at: usize) -> usize {
        let h = hash4(&self.window[at..at + MIN_MATCH]);
        let head = self.hash_head[h];
        self.hash_prev[at & WINDOW_MASK] = head;
        self.hash_head[h] = (at + self.hash_offset) as u32;
        head as usize
    }

    /// Lazy matching: a match is kept only if the next position has no
    /// longer one.
    fn deflate(&mut self) {
        if self.window_end - self.index < MIN_MATCH + MAX_MATCH && !self.sync {
            return;
        }
        self.max_insert_index = self.window_end.saturating_sub(MIN_MATCH - 1);
        loop {
            let lookahead = self.window_end - self.index;
            if lookahead < MIN_MATCH + MAX_MATCH {
                if !self.sync {
                    return;
                }
                if lookahead == 0 {
                    if self.byte_available {
                        self.tokens
                            .push(Token::Literal(self.window[self.index - 1]));
                        self.byte_available = false;
                    }
                    if !self.tokens.is_empty() {
                        self.write_block(self.index);
                    }
                    return;
                }
            }
            if self.index < self.max_insert_index {
                self.chain_head = self.insert_hash(self.index) as isize;
            }
            let prev_length = self.length;
            let prev_offset = self.offset;
            self.length = MIN_MATCH - 1;
            self.offset = 0;
            let min_index = self.index.saturating_sub(WINDOW_SIZE) as isize;
            let head = self.chain_head - self.hash_offset as isize;
            if head >= min_index
                && lookahead > prev_length
                && prev_length < LAZY
                && let Some((l, o)) = self.find_match(self.index, head, MIN_MATCH - 1, lookahead)
            {
                self.length = l;
                self.offset = o;
            }
            if prev_length >= MIN_MATCH && self.length <= prev_length {
                self.tokens
                    .push(Token::Match(prev_length as u16, prev_offset as u32));
                // Hash every position the match covers (index and index-1
                // are in already).
                let end = self.index + prev_length - 1;
                let mut i = self.index + 1;
                while i < end {
                    if i < self.max_insert_index {
                        self.insert_hash(i);
                    }
                    i += 1;
                }
                self.index = end;
                self.byte_available = false;
                self.length = MIN_MATCH - 1;
                if self.tokens.len() == MAX_BLOCK_TOKENS {
                    self.write_block(self.index);
                }
            } else {
                if self.byte_available {
                    let i = self.index - 1;
                    self.tokens.push(Token::Literal(self.window[i]));
                    if self.tokens.len() == MAX_BLOCK_TOKENS {
                        self.write_block(i + 1);
                    }
                }
                self.index += 1;
                self.byte_available = true;
            }
        }
    }

    fn find_match(
        &self,
        pos: usize,
        prev_head: isize,
        prev_length: usize,
        lookahead: usize,
    ) -> Option<(usize, usize)> {
        let look = MAX_MATCH.min(lookahead);
        let win = &self.window[..pos + look];
        let nice = NICE.min(win.len() - pos);
        let mut tries = CHAIN;
        let mut length = prev_length;
        if length >= GOOD {
            tries >>= 2;
        }
        let mut w_end = win[pos + length];
        let min_index = pos as isize - WINDOW_SIZE as isize;
        let mut found = None;
        let mut i = prev_head;
        while tries > 0 {
            let iu = i as usize;
            if w_end == win[iu + length] {
                let n = win[iu..iu + look]
                    .iter()
                    .zip(&win[pos..])
                    .take_while(|(a, b)| a == b)
                    .count();
                if n > length && (n > MIN_MATCH || pos - iu <= 4096) {
                    length = n;
                    found = Some((n, pos - iu));
                    if n >= nice {
                        break;
                    }
                    w_end = win[pos + n];
                }
            }
            if i == min_index {
                break;
            }
            i = self.hash_prev[iu & WINDOW_MASK] as isize - self.hash_offset as isize;
            if i < min_index || i < 0 {
                break;
            }
            tries -= 1;
        }
        found
    }

    fn write_block(&mut self, index: usize) {
        let input = (self.block_start <= index).then(|| &self.window[self.block_start..index]);
        self.block_start = index;
        let mut tokens = std::mem::take(&mut self.tokens);
        self.out.block(&mut tokens, input);
        tokens.clear();
        self.tokens = tokens;
    }
}

fn length_code(length: u16) -> usize {
    LENGTH_BASE.iter().rposition(|&b| b <= length).unwrap_or(0)
}

fn offset_code(offset: u32) -> usize {
    OFFSET_BASE.iter().rposition(|&b| b <= offset).unwrap_or(0)
}

/// A Huffman code: the bits (already reversed, to be written LSB first)
/// and their count.
#[derive(Clone, Copy, Default)]
struct Code {
    code: u16,
    len: u16,
}

fn reverse_bits(v: u16, len: u16) -> u16 {
    (v << (16 - len)).reverse_bits()
}

fn fixed_literal_codes() -> Vec<Code> {
    (0..LITERALS as u16)
        .map(|ch| {
            let (bits, len) = match ch {
                0..=143 => (ch + 48, 8),
                144..=255 => (ch + 400 - 144, 9),
                256..=279 => (ch - 256, 7),
                _ => (ch + 192 - 280, 8),
            };
            Code {
                code: reverse_bits(bits, len),
                len,
            }
        })
        .collect()
}

fn fixed_offset_codes() -> Vec<Code> {
    (0..OFFSET_CODES as u16)
        .map(|ch| Code {
            code: reverse_bits(ch, 5),
            len: 5,
        })
        .collect()
}

fn bit_length(codes: &[Code], freq: &[u32]) -> usize {
    freq.iter()
        .zip(codes)
        .map(|(&f, c)| f as usize * c.len as usize)
        .sum()
}

/// Go's length-limited Huffman code for `freq`: code lengths from its
/// level-by-level pair counting, codes assigned in literal order within a
/// length.
fn huffman(freq: &[u32], max_bits: usize) -> Vec<Code> {
    let mut codes = vec![Code::default(); freq.len()];
    // (literal, freq), literal order.
    let mut list: Vec<(u16, u32)> = freq
        .iter()
        .enumerate()
        .filter(|(_, f)| **f != 0)
        .map(|(i, f)| (i as u16, *f))
        .collect();
    if list.len() <= 2 {
        for (i, (lit, _)) in list.iter().enumerate() {
            codes[*lit as usize] = Code {
                code: i as u16,
                len: 1,
            };
        }
        return codes;
    }
    list.sort_by_key(|&(lit, f)| (f, lit));
    let bit_count = bit_counts(&list, max_bits);
    let mut code: u16 = 0;
    let mut rest = &mut list[..];
    for (n, &bits) in bit_count.iter().enumerate() {
        code <<= 1;
        if n == 0 || bits == 0 {
            continue;
        }
        let split = rest.len() - bits as usize;
        let (head, chunk) = rest.split_at_mut(split);
        chunk.sort_by_key(|&(lit, _)| lit);
        for &(lit, _) in chunk.iter() {
            codes[lit as usize] = Code {
                code: reverse_bits(code, n as u16),
                len: n as u16,
            };
            code += 1;
        }
        rest = head;
    }
    codes
}

#[derive(Clone, Copy, Default)]
struct Level {
    last_freq: u32,
    next_char_freq: u32,
    next_pair_freq: u32,
    needed: i32,
}

/// How many literals get each code length (index = bits), for `list`
/// sorted by frequency: Go's `bitCounts`.
fn bit_counts(list: &[(u16, u32)], max_bits: usize) -> Vec<i32> {
    const MAX: u32 = i32::MAX as u32;
    const LIMIT: usize = 17;
    let n = list.len();
    let freq = |i: usize| if i < n { list[i].1 } else { MAX };
    let max_bits = max_bits.min(n - 1);
    let mut levels = [Level::default(); LIMIT];
    let mut leaf_counts = [[0i32; LIMIT]; LIMIT];
    for level in 1..=max_bits {
        levels[level] = Level {
            last_freq: freq(1),
            next_char_freq: freq(2),
            next_pair_freq: if level == 1 { MAX } else { freq(0) + freq(1) },
            needed: 0,
        };
        leaf_counts[level][level] = 2;
    }
    levels[max_bits].needed = 2 * n as i32 - 4;
    let mut level = max_bits;
    loop {
        let l = levels[level];
        if l.next_pair_freq == MAX && l.next_char_freq == MAX {
            levels[level].needed = 0;
            levels[level + 1].next_pair_freq = MAX;
            level += 1;
            continue;
        }
        let prev_freq = l.last_freq;
        if l.next_char_freq < l.next_pair_freq {
            let c = leaf_counts[level][level] + 1;
            levels[level].last_freq = l.next_char_freq;
            leaf_counts[level][level] = c;
            levels[level].next_char_freq = freq(c as usize);
        } else {
            levels[level].last_freq = l.next_pair_freq;
            let (lower, upper) = leaf_counts.split_at_mut(level);
            upper[0][..level].copy_from_slice(&lower[level - 1][..level]);
            levels[level - 1].needed = 2;
        }
        levels[level].needed -= 1;
        if levels[level].needed == 0 {
            if level == max_bits {
                break;
            }
            levels[level + 1].next_pair_freq = prev_freq + levels[level].last_freq;
            level += 1;
        } else {
            while levels[level - 1].needed > 0 {
                level -= 1;
            }
        }
    }
    let mut bit_count = vec![0i32; max_bits + 1];
    let counts = &leaf_counts[max_bits];
    for (bits, level) in (1..=max_bits).zip((1..=max_bits).rev()) {
        bit_count[bits] = counts[level] - counts[level - 1];
    }
    bit_count
}

/// Deflate's bit stream: least significant bit first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: u64,
    nbits: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, n: u32) {
        self.bits |= u64::from(value) << self.nbits;
        self.nbits += n;
        while self.nbits >= 8 {
            self.bytes.push(self.bits as u8);
            self.bits >>= 8;
            self.nbits -= 8;
        }
    }

    fn code(&mut self, c: Code) {
        self.put(u32::from(c.code), u32::from(c.len));
    }

    fn align(&mut self) {
        if self.nbits > 0 {
            self.bytes.push(self.bits as u8);
            self.bits = 0;
            self.nbits = 0;
        }
    }

    fn stored_header(&mut self, length: usize, last: bool) {
        self.put(u32::from(last), 3);
        self.align();
        self.put(length as u32, 16);
        self.put(!(length as u16) as u32, 16);
    }

    /// One block of `tokens` (from `input`, when the window still holds
    /// it): stored, fixed or dynamic, whichever is smallest.
    fn block(&mut self, tokens: &mut Vec<Token>, input: Option<&[u8]>) {
        tokens.push(Token::End);
        let mut lit_freq = [0u32; LITERALS];
        let mut off_freq = [0u32; OFFSET_CODES];
        for t in tokens.iter() {
            match *t {
                Token::Literal(b) => lit_freq[b as usize] += 1,
                Token::End => lit_freq[END_BLOCK as usize] += 1,
                Token::Match(l, o) => {
                    lit_freq[257 + length_code(l)] += 1;
                    off_freq[offset_code(o)] += 1;
                }
            }
        }
        let num_lit = LITERALS - lit_freq.iter().rev().take_while(|f| **f == 0).count();
        let mut num_off = OFFSET_CODES - off_freq.iter().rev().take_while(|f| **f == 0).count();
        if num_off == 0 {
            // A dynamic header needs one distance code.
            off_freq[0] = 1;
            num_off = 1;
        }
        let lit_codes = huffman(&lit_freq, 15);
        let off_codes = huffman(&off_freq, 15);

        let storable = input.filter(|i| i.len() <= MAX_STORE_BLOCK);
        let mut extra = 0usize;
        if storable.is_some() {
            // The first eight length codes and four distance codes have no
            // extra bits.
            for code in 257 + 8..num_lit {
                extra += lit_freq[code] as usize * LENGTH_EXTRA[code - 257] as usize;
            }
            for code in 4..num_off {
                extra += off_freq[code] as usize * OFFSET_EXTRA[code] as usize;
            }
        }
        let fixed_lit = fixed_literal_codes();
        let fixed_off = fixed_offset_codes();
        let fixed_size =
            3 + bit_length(&fixed_lit, &lit_freq) + bit_length(&fixed_off, &off_freq) + extra;

        let lengths: Vec<u8> = lit_codes[..num_lit]
            .iter()
            .chain(&off_codes[..num_off])
            .map(|c| c.len as u8)
            .collect();
        let (codegen, cg_freq) = codegen(&lengths);
        let cg_codes = huffman(&cg_freq, 7);
        let mut num_cg = CODEGEN_CODES;
        while num_cg > 4 && cg_freq[CODEGEN_ORDER[num_cg - 1]] == 0 {
            num_cg -= 1;
        }
        let header = 3
            + 5
            + 5
            + 4
            + 3 * num_cg
            + bit_length(&cg_codes, &cg_freq)
            + cg_freq[16] as usize * 2
            + cg_freq[17] as usize * 3
            + cg_freq[18] as usize * 7;
        let dynamic_size =
            header + bit_length(&lit_codes, &lit_freq) + bit_length(&off_codes, &off_freq) + extra;

        let dynamic = dynamic_size < fixed_size;
        let size = fixed_size.min(dynamic_size);
        if let Some(input) = storable
            && (input.len() + 5) * 8 < size
        {
            self.stored_header(input.len(), false);
            self.bytes.extend_from_slice(input);
            return;
        }
        let (lit, off) = if dynamic {
            self.put(4, 3);
            self.put((num_lit - 257) as u32, 5);
            self.put((num_off - 1) as u32, 5);
            self.put((num_cg - 4) as u32, 4);
            for &c in &CODEGEN_ORDER[..num_cg] {
                self.put(u32::from(cg_codes[c].len), 3);
            }
            let mut i = 0;
            while i < codegen.len() {
                let c = codegen[i] as usize;
                self.code(cg_codes[c]);
                i += 1;
                let extra_bits = match c {
                    16 => 2,
                    17 => 3,
                    18 => 7,
                    _ => 0,
                };
                if extra_bits > 0 {
                    self.put(u32::from(codegen[i]), extra_bits);
                    i += 1;
                }
            }
            (lit_codes, off_codes)
        } else {
            self.put(2, 3);
            (fixed_lit, fixed_off)
        };
        for t in tokens.iter() {
            match *t {
                Token::Literal(b) => self.code(lit[b as usize]),
                Token::End => self.code(lit[END_BLOCK as usize]),
                Token::Match(l, o) => {
                    let lc = length_code(l);
                    self.code(lit[257 + lc]);
                    if LENGTH_EXTRA[lc] > 0 {
                        self.put(u32::from(l - LENGTH_BASE[lc]), u32::from(LENGTH_EXTRA[lc]));
                    }
                    let oc = offset_code(o);
                    self.code(off[oc]);
                    if OFFSET_EXTRA[oc] > 0 {
                        self.put(o - OFFSET_BASE[oc], u32::from(OFFSET_EXTRA[oc]));
                    }
                }
            }
        }
    }
}

/// The run-length coded code lengths of a dynamic header (symbols 0..=15,
/// 16 = repeat previous 3-6 times, 17 = zeros 3-10, 18 = zeros 11-138, the
/// latter three followed by their count), and each symbol's frequency.
fn codegen(lengths: &[u8]) -> (Vec<u8>, [u32; CODEGEN_CODES]) {
    let mut out = Vec::with_capacity(lengths.len());
    let mut freq = [0u32; CODEGEN_CODES];
    let mut i = 0;
    while i < lengths.len() {
        let size = lengths[i];
        let mut count = lengths[i..].iter().take_while(|&&l| l == size).count();
        i += count;
        if size != 0 {
            out.push(size);
            freq[size as usize] += 1;
            count -= 1;
            while count >= 3 {
                let n = count.min(6);
                out.push(16);
                out.push((n - 3) as u8);
                freq[16] += 1;
                count -= n;
            }
        } else {
            while count >= 11 {
                let n = count.min(138);
                out.push(18);
                out.push((n - 11) as u8);
                freq[18] += 1;
                count -= n;
            }
            if count >= 3 {
                out.push(17);
                out.push((count - 3) as u8);
                freq[17] += 1;
                count = 0;
            }
        }
        for _ in 0..count {
            out.push(size);
            freq[size as usize] += 1;
        }
    }
    (out, freq)
}
