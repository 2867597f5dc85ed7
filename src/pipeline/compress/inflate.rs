//! Measures how large a zlib stream inflates without inflating it: the Huffman codes are decoded
//! and the lengths added up, and nothing is written. The png crate inflates a whole iCCP chunk
//! before anyone can look at its size, so this is how a 1 MiB chunk that would become 1 GiB is
//! refused first. Cost: one pass over the compressed bits, stopping as soon as the limit is
//! passed (about 4,000 symbols for a 1 MiB limit in a maximally compressed stream).

/// Bit reader over a DEFLATE stream (least significant bit first).
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bits<'_> {
    fn take(&mut self, n: u32) -> Option<u32> {
        let mut v = 0;
        for i in 0..n {
            let byte = *self.data.get(self.at / 8)?;
            v |= u32::from(byte >> (self.at % 8) & 1) << i;
            self.at += 1;
        }
        Some(v)
    }
}

/// A canonical Huffman code as counts per length and symbols in code order.
struct Code {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Code {
    /// None when the lengths over-subscribe the code space (an invalid stream).
    fn new(lengths: &[u8]) -> Option<Self> {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[usize::from(l)] += 1;
        }
        counts[0] = 0;
        let mut left = 1i32;
        for &c in &counts[1..] {
            left = (left << 1) - i32::from(c);
            if left < 0 {
                return None;
            }
        }
        let mut symbols: Vec<u16> = (0..lengths.len() as u16).filter(|&s| lengths[usize::from(s)] != 0).collect();
        symbols.sort_by_key(|&s| lengths[usize::from(s)]);
        Some(Self { counts, symbols })
    }

    fn decode(&self, bits: &mut Bits<'_>) -> Option<u16> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for &count in &self.counts[1..] {
            code |= bits.take(1)? as i32;
            let count = i32::from(count);
            if code - first < count {
                return self.symbols.get((index + code - first) as usize).copied();
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        None
    }
}

const LENGTH_BASE: [u16; 29] =
    [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA: [u8; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE: [u32; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
    8193, 12289, 16385, 24577,
];
const CODE_LENGTH_ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/// True when the zlib stream `zlib` inflates to more than `limit` bytes. A corrupt stream counts
/// what its valid beginning inflates to: the decoder stops at the same place.
pub(super) fn inflates_beyond(zlib: &[u8], limit: u64) -> bool {
    let mut bits = Bits { data: zlib, at: 16 };
    let mut total = 0u64;
    while let Some(last) = bits.take(1) {
        let Some(Some(n)) = bits.take(2).map(|kind| block(&mut bits, kind, total, limit)) else {
            return false;
        };
        total += n;
        if total > limit {
            return true;
        }
        if last == 1 {
            break;
        }
    }
    false
}

/// Inflated length of one block, stopping once `total` plus it passes `limit`; None if corrupt.
fn block(bits: &mut Bits<'_>, kind: u32, total: u64, limit: u64) -> Option<u64> {
    let (lit, dist) = match kind {
        0 => {
            bits.at = bits.at.next_multiple_of(8);
            let len = bits.take(16)?;
            (bits.take(16)? == !len & 0xFFFF).then_some(())?;
            bits.at += 8 * len as usize;
            return Some(u64::from(len));
        }
        1 => {
            let mut lengths = [8u8; 288];
            lengths[144..256].fill(9);
            lengths[256..280].fill(7);
            (Code::new(&lengths)?, Code::new(&[5; 30])?)
        }
        2 => dynamic_codes(bits)?,
        _ => return None,
    };
    let mut n = 0u64;
    loop {
        match lit.decode(bits)? {
            0..=255 => n += 1,
            256 => return Some(n),
            sym => {
                let i = usize::from(sym - 257);
                let length = u64::from(*LENGTH_BASE.get(i)?) + u64::from(bits.take(u32::from(LENGTH_EXTRA[i]))?);
                let d = usize::from(dist.decode(bits)?);
                let distance = DIST_BASE.get(d)? + bits.take(d.saturating_sub(2) as u32 / 2)?;
                // A match may not reach before the start of the output.
                (u64::from(distance) <= total + n).then_some(())?;
                n += length;
            }
        }
        if total + n > limit {
            return Some(n);
        }
    }
}

fn dynamic_codes(bits: &mut Bits<'_>) -> Option<(Code, Code)> {
    let hlit = bits.take(5)? as usize + 257;
    let hdist = bits.take(5)? as usize + 1;
    let hclen = bits.take(4)? as usize + 4;
    let mut cl_lengths = [0u8; 19];
    for &i in &CODE_LENGTH_ORDER[..hclen] {
        cl_lengths[i] = bits.take(3)? as u8;
    }
    let cl = Code::new(&cl_lengths)?;
    let mut lengths = Vec::with_capacity(hlit + hdist);
    while lengths.len() < hlit + hdist {
        let (value, repeat) = match cl.decode(bits)? {
            sym @ 0..=15 => (sym as u8, 1),
            16 => (*lengths.last()?, 3 + bits.take(2)?),
            17 => (0, 3 + bits.take(3)?),
            _ => (0, 11 + bits.take(7)?),
        };
        lengths.extend(std::iter::repeat_n(value, repeat as usize));
    }
    (lengths.len() == hlit + hdist).then_some(())?;
    Some((Code::new(&lengths[..hlit])?, Code::new(&lengths[hlit..])?))
}
