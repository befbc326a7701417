//! Prints the exit-code table as Markdown, for the README.

fn main() {
    print!("{}", beckon_desktop::exit::markdown());
}
