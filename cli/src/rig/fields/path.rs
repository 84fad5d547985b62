use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::without_references;

/// A path in a rig file (`cwd`, …). A relative one is taken from the directory
/// of the rig file, as Cargo and docker-compose take theirs, so a rig runs the
/// same from any working directory. It cannot hold references (it is settled
/// before any driver starts); `$$` is a literal `$`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RigPath(PathBuf);

impl RigPath {
    /// `path`, already read from its text (references refused, `$$` unescaped).
    pub(super) fn literal(path: PathBuf) -> Self {
        Self(path)
    }

    /// The path: as written when absolute, else joined to `rig_dir` (the
    /// directory of the rig file), without `.` components.
    pub(crate) fn resolve(&self, rig_dir: &Path) -> PathBuf {
        if self.0.is_absolute() {
            return self.0.clone();
        }
        // `components` drops the `.`s, so `./data` reads `<rig dir>/data`.
        rig_dir.join(&self.0).components().collect()
    }

    /// The path as the rig file wrote it, for a key relative to something else
    /// than the rig file (a file the program writes in its working directory).
    pub(crate) fn as_written(&self) -> &Path {
        &self.0
    }
}

impl<'de> Deserialize<'de> for RigPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(PathVisitor)
    }
}

struct PathVisitor;

impl Visitor<'_> for PathVisitor {
    type Value = RigPath;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a path (a relative one is taken from the rig file's directory)")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        let path = without_references(text, "write the path itself").map_err(E::custom)?;
        if path.is_empty() {
            return Err(E::custom(
                "the path is empty; write one (a relative path is taken from the rig file's directory)",
            ));
        }
        Ok(RigPath(PathBuf::from(path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Holder {
        path: RigPath,
    }

    fn parse(value: &str) -> Result<RigPath, String> {
        toml::from_str::<Holder>(&format!("path = {value}"))
            .map(|h| h.path)
            .map_err(|e| e.message().to_owned())
    }

    #[test]
    fn a_relative_path_is_taken_from_the_rig_directory_and_an_absolute_one_is_kept() {
        let rig_dir = Path::new("/rigs/echo");
        let resolve = |value: &str| parse(value).unwrap().resolve(rig_dir);
        assert_eq!(resolve("'work'"), Path::new("/rigs/echo/work"));
        assert_eq!(resolve("'./data/in'"), Path::new("/rigs/echo/data/in"));
        assert_eq!(resolve("'../shared'"), Path::new("/rigs/echo/../shared"));
        assert_eq!(resolve("'/var/tmp'"), Path::new("/var/tmp"));
        assert_eq!(
            parse("'./a.log'").unwrap().as_written(),
            Path::new("./a.log")
        );
    }

    #[test]
    fn an_empty_path_a_reference_and_a_number_are_refused() {
        assert!(parse("''").unwrap_err().starts_with("the path is empty"));
        assert!(
            parse("'${server.dir}'")
                .unwrap_err()
                .contains("cannot hold a reference such as `${server.dir}`")
        );
        assert!(parse("3").unwrap_err().contains("expected a path"));
    }
}
