use grader_kit::Failure;

fn main() {
    grader_kit::run(|worker| {
        worker.check("basics", "first", || { exercise::answer(); Ok(()) });
        worker.check("answer", "answer-is-42", || {
            let got = exercise::answer();
            if got == 42 {
                Ok(())
            } else {
                Err(Failure::new(format!("expected 42, got {got}")))
            }
        });
    });
}
