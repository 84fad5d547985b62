use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::{RigPath, without_references};

/// A program to run (`binary`, `iperf3_program`): a name without `/`, looked up
/// in `PATH` when it starts (`"sleep"`), or a path, whose relative form is taken
/// from the rig file's directory (`"bin/server"`, `"./server"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Program {
    /// Looked up in `PATH`.
    Name(String),
    /// A file.
    Path(RigPath),
}

impl Program {
    /// What to run: the name as is, or the path from `rig_dir` (the directory
    /// of the rig file) when relative.
    pub(crate) fn resolve(&self, rig_dir: &Path) -> PathBuf {
        match self {
            Program::Name(name) => PathBuf::from(name),
            Program::Path(path) => path.resolve(rig_dir),
        }
    }
}

impl<'de> Deserialize<'de> for Program {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(ProgramVisitor)
    }
}

struct ProgramVisitor;

impl Visitor<'_> for ProgramVisitor {
    type Value = Program;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a program: a name looked up in PATH, or a path")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        let program = without_references(text, "write the program's name or path itself")
            .map_err(E::custom)?;
        if program.trim().is_empty() {
            return Err(E::custom(
                "the program is empty; give a name looked up in PATH, or a path",
            ));
        }
        if !program.contains('/') {
            return Ok(Program::Name(program));
        }
        Ok(Program::Path(RigPath::literal(PathBuf::from(program))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Holder {
        program: Program,
    }

    fn parse(value: &str) -> Result<Program, String> {
        toml::from_str::<Holder>(&format!("program = {value}"))
            .map(|h| h.program)
            .map_err(|e| e.message().to_owned())
    }

    #[test]
    fn a_bare_name_stays_a_path_lookup_and_a_relative_path_is_taken_from_the_rig_directory() {
        let rig_dir = Path::new("/rigs/echo");
        let resolve = |value: &str| parse(value).unwrap().resolve(rig_dir);
        assert_eq!(resolve("'python3'"), Path::new("python3"));
        assert_eq!(resolve("'bin/server'"), Path::new("/rigs/echo/bin/server"));
        assert_eq!(resolve("'./server'"), Path::new("/rigs/echo/server"));
        assert_eq!(resolve("'/usr/bin/iperf3'"), Path::new("/usr/bin/iperf3"));
    }

    #[test]
    fn an_empty_program_and_a_reference_are_refused() {
        assert!(
            parse("' '")
                .unwrap_err()
                .starts_with("the program is empty")
        );
        assert!(
            parse("'${build.dir}/server'")
                .unwrap_err()
                .contains("cannot hold a reference such as `${build.dir}`")
        );
    }
}
