use std::sync::Arc;
use miden_vm::assembly::{ast::ModuleKind, DefaultSourceManager, ModuleParser};

#[test]
fn experiment() {
    let src = "
const U64_DIV_EVENT = event(\"miden::core::math::u64::u64_div\")
begin
    push.4294967298 u32split
    # 1000007 / 1000  -> q=1000 r=7 ; use b=[1000,0], a=[1000007, 0]
    push.0.1000007 push.0.1000 emit.U64_DIV_EVENT drop drop drop drop
    adv_push adv_push adv_push adv_push
    push.10 push.3 exp.u3
    repeat.7 movup.15 drop end
end";
    let _ = Arc::new(DefaultSourceManager::default());
    let _ = ModuleKind::Library;
    let _ = ModuleParser::new(ModuleKind::Library);
    let p = m2m_plan::assemble_program(src).unwrap();
    let out = m2m_plan::execute(&p, &[]).unwrap();
    println!("{:?}", out.iter().map(|f| f.as_canonical_u64()).collect::<Vec<_>>());
}
