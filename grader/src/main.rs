fn main() {
    // Whatever a worker, an adapter or a build leaves behind (a process that
    // left its group) is re-parented to the launcher, which ends it after
    // each run (grader_kit::process::sweep).
    grader_kit::process::become_subreaper();
    std::process::exit(grader::cli::main());
}
