//! `m2m_plan::assembler` links a library built once per process (the m2m::plan modules with the
//! core-library procedures they use). A program's MAST root is its identity in every plan proof,
//! so it must equal what the straightforward assembler gives: the whole core library and the
//! four modules linked statically. Checked for every exported procedure, alone and in sequences
//! with control flow around the calls (where the assembler merges basic blocks).

use std::sync::Arc;

use miden_core_lib::CoreLibrary;
use miden_vm::assembly::{ast::ModuleKind, DefaultSourceManager, ModuleParser};
use miden_vm::Assembler;

fn reference_hash(source: &str) -> miden_core::Word {
    let source_manager = Arc::new(DefaultSourceManager::default());
    let mut assembler = Assembler::new(source_manager.clone())
        .with_static_library(CoreLibrary::default())
        .unwrap();
    for (path, text) in m2m_plan::MODULES {
        let module = ModuleParser::new(ModuleKind::Library)
            .parse_str(path, text, source_manager.clone())
            .unwrap();
        assembler.compile_and_statically_link(module).unwrap();
    }
    assembler.assemble_program(source).unwrap().hash()
}

/// `(alias, procedure)` of every `pub proc` of the four modules.
fn exports() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, text) in m2m_plan::MODULES {
        let alias = path.rsplit("::").next().unwrap().to_owned();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("pub proc ") {
                let name = rest.split_whitespace().next().unwrap().to_owned();
                out.push((alias.clone(), name));
            }
        }
    }
    out
}

const USES: &str =
    "use m2m::plan::fixed\nuse m2m::plan::str\nuse m2m::plan::data\nuse m2m::plan::text\n";

fn assert_same(source: &str) {
    let ours = m2m_plan::assemble_program(source).unwrap().hash();
    assert_eq!(ours, reference_hash(source), "{source}");
}

#[test]
fn every_exported_procedure_alone() {
    let exports = exports();
    assert!(exports.len() > 40, "found only {} exports", exports.len());
    for (alias, name) in exports {
        assert_same(&format!("{USES}begin\n    exec.{alias}::{name}\nend\n"));
    }
}

#[test]
fn procedures_in_sequences_with_control_flow() {
    let exports = exports();
    for (i, window) in exports.windows(3).enumerate() {
        let [(a1, p1), (a2, p2), (a3, p3)] = window else {
            unreachable!()
        };
        assert_same(&format!(
            "{USES}begin\n    push.{i} exec.{a1}::{p1} add.1\n    exec.{a2}::{p2}\n    \
             dup if.true\n        exec.{a3}::{p3} drop\n    else\n        push.2 \
             while.true exec.{a1}::{p1} push.0 end\n    end\nend\n"
        ));
    }
}
