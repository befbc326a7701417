//! "Did you mean ...?" for names typed on the command line.

/// The candidate `name` was most likely meant to be, if one is close
/// enough: first one that differs only in case (`Bob` for `bob`), else the
/// nearest by edit distance (insertions, deletions, substitutions, and two
/// neighbours swapped, case ignored), at most one edit for names of up to
/// five characters, two up to eight, three beyond. Ties go to the earliest
/// candidate, so the answer does not depend on anything but the order
/// given.
///
/// ```
/// use beckon_desktop::store::did_you_mean;
/// let names = ["alice", "bob", "carol"];
/// assert_eq!(did_you_mean("bbo", names), Some("bob"));
/// assert_eq!(did_you_mean("Alice", names), Some("alice"));
/// assert_eq!(did_you_mean("dave", names), None);
/// ```
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wanted: Vec<char> = name.chars().flat_map(char::to_lowercase).collect();
    let limit = match wanted.len() {
        0 => return None,
        1..=5 => 1,
        6..=8 => 2,
        _ => 3,
    };
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let lower: Vec<char> = candidate.chars().flat_map(char::to_lowercase).collect();
        if lower == wanted {
            return Some(candidate);
        }
        // Lengths that differ by more than the limit cannot be near.
        if lower.len().abs_diff(wanted.len()) > limit {
            continue;
        }
        let distance = edit_distance(&wanted, &lower);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// The optimal string alignment distance: Levenshtein's, plus the swap of
/// two neighbours as one edit (`bbo` is one edit from `bob`).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    // Three rows: the one before the previous (for swaps), the previous,
    // and the current.
    let mut before: Vec<usize> = vec![0; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current: Vec<usize> = vec![0; width];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..width {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        edit_distance(&a, &b)
    }

    #[test]
    fn edit_distances_count_swaps_as_one() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("bob", ""), 3);
        assert_eq!(distance("", "bob"), 3);
        assert_eq!(distance("bob", "bob"), 0);
        assert_eq!(distance("bbo", "bob"), 1);
        assert_eq!(distance("bo", "bob"), 1);
        assert_eq!(distance("bobb", "bob"), 1);
        assert_eq!(distance("bib", "bob"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("ca", "abc"), 3);
    }

    #[test]
    fn a_slip_of_case_is_found_first() {
        assert_eq!(did_you_mean("Bob", ["bobby", "bob"]), Some("bob"));
        assert_eq!(did_you_mean("ALICE", ["alice"]), Some("alice"));
        assert_eq!(did_you_mean("Émile", ["émile"]), Some("émile"));
    }

    #[test]
    fn a_near_name_is_suggested_and_a_far_one_is_not() {
        let names = ["alice", "bob", "carol", "alexander"];
        assert_eq!(did_you_mean("bbo", names), Some("bob"));
        assert_eq!(did_you_mean("bo", names), Some("bob"));
        assert_eq!(did_you_mean("carl", names), Some("carol"));
        assert_eq!(did_you_mean("alxeander", names), Some("alexander"));
        assert_eq!(did_you_mean("alexandre", names), Some("alexander"));
        assert_eq!(did_you_mean("dave", names), None);
        assert_eq!(did_you_mean("xyz", names), None);
        assert_eq!(did_you_mean("", names), None);
        assert_eq!(did_you_mean("bob", []), None);
    }

    #[test]
    fn the_nearest_wins_and_ties_go_to_the_first() {
        assert_eq!(
            did_you_mean("robert", ["roberta", "robert1x"]),
            Some("roberta")
        );
        assert_eq!(did_you_mean("bob", ["bab", "bib"]), Some("bab"));
        assert_eq!(did_you_mean("bob", ["bib", "bab"]), Some("bib"));
    }
}
