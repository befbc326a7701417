//! The README's copy of the exit-code table is the code's.

#[test]
fn the_readme_shows_the_exit_code_table_of_the_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let begin = "<!-- exit-codes:begin -->\n";
    let start = readme.find(begin).expect("the begin marker") + begin.len();
    let end = readme
        .find("<!-- exit-codes:end -->")
        .expect("the end marker");
    assert_eq!(
        &readme[start..end],
        beckon_desktop::exit::markdown(),
        "regenerate the table with `cargo run -p beckon-desktop --example exit_table`"
    );
}
