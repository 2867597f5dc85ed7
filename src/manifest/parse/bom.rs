//! The byte order mark some spreadsheets write before a UTF-8 CSV.

use std::io::{self, Read};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Drops the UTF-8 byte order mark at the start of the stream, before the csv reader sees it. The
/// csv reader drops one only when its first read holds all three bytes, and an upload arrives in
/// chunks of any size; a mark left in sticks to the first header cell and turns the quote that
/// may open it into text.
pub(super) struct SkipBom<R> {
    inner: R,
    checked: bool,
    /// What was read ahead to look for the mark, without it, and how much of that is handed out.
    head: Vec<u8>,
    served: usize,
}

impl<R> SkipBom<R> {
    pub(super) fn new(inner: R) -> Self {
        Self { inner, checked: false, head: Vec::new(), served: 0 }
    }
}

impl<R: Read> SkipBom<R> {
    /// Reads until the first bytes are known not to be a mark, and drops every mark before them:
    /// the csv reader would drop one more itself when its first read begins with one, and then
    /// how an upload happened to be split would decide whether a doubled mark is refused.
    fn read_head(&mut self) -> io::Result<Vec<u8>> {
        // As large as the csv reader's own buffer, so the first read is as large as without this.
        let mut head = vec![0u8; 8 << 10];
        let mut len = 0;
        loop {
            while head[..len].starts_with(BOM) {
                head.copy_within(BOM.len()..len, 0);
                len -= BOM.len();
            }
            if len >= BOM.len() || head[..len] != BOM[..len] {
                break;
            }
            match self.inner.read(&mut head[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                // Retried here, since a second call would no longer look for the mark.
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        head.truncate(len);
        Ok(head)
    }
}

impl<R: Read> Read for SkipBom<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !std::mem::replace(&mut self.checked, true) {
            self.head = self.read_head()?;
        }
        let rest = &self.head[self.served..];
        if rest.is_empty() {
            return self.inner.read(buf);
        }
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.served += n;
        Ok(n)
    }
}
