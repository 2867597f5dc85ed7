//! What is wrong with an uploaded CSV, and where.

/// Most problems reported for one file; reading stops once this many are found, so a merchant
/// who uploaded the wrong file gets a readable answer rather than a million lines.
pub const MAX_PROBLEMS: usize = 100;

/// One problem found in an uploaded CSV.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CsvProblem {
    /// 1-based line of the file; the header is line 1.
    pub line: u64,
    /// 1-based column, when the problem is in one cell.
    pub column: Option<u64>,
    /// What is wrong, in words a merchant understands.
    pub message: String,
}
