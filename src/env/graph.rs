/// The dependency graph of an environment, by driver index.
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    /// `dependencies[i]`: the drivers `i` needs started first.
    pub(crate) dependencies: Vec<Vec<usize>>,
    /// `dependents[i]`: the drivers that need `i`.
    pub(crate) dependents: Vec<Vec<usize>>,
}

impl Graph {
    pub(crate) fn new(size: usize) -> Self {
        Self {
            dependencies: vec![Vec::new(); size],
            dependents: vec![Vec::new(); size],
        }
    }

    /// Records that `dependent` needs `dependency` (once).
    pub(crate) fn add(&mut self, dependent: usize, dependency: usize) {
        if !self.dependencies[dependent].contains(&dependency) {
            self.dependencies[dependent].push(dependency);
            self.dependents[dependency].push(dependent);
        }
    }

    /// A cycle, as the list of drivers on it with the first repeated at the end,
    /// or `None` when the graph is acyclic.
    pub(crate) fn find_cycle(&self) -> Option<Vec<usize>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        let mut marks = vec![Mark::New; self.dependencies.len()];
        for root in 0..self.dependencies.len() {
            if marks[root] != Mark::New {
                continue;
            }
            // Iterative depth-first search; `path` is the current chain.
            let mut path: Vec<(usize, usize)> = vec![(root, 0)];
            marks[root] = Mark::OnPath;
            while let Some(&mut (node, ref mut next)) = path.last_mut() {
                if let Some(&child) = self.dependencies[node].get(*next) {
                    *next += 1;
                    match marks[child] {
                        Mark::New => {
                            marks[child] = Mark::OnPath;
                            path.push((child, 0));
                        }
                        Mark::OnPath => {
                            let start = path.iter().position(|(n, _)| *n == child).unwrap_or(0);
                            let mut cycle: Vec<usize> =
                                path[start..].iter().map(|(n, _)| *n).collect();
                            cycle.push(child);
                            return Some(cycle);
                        }
                        Mark::Done => {}
                    }
                } else {
                    marks[node] = Mark::Done;
                    path.pop();
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_has_no_cycle_and_a_loop_is_found() {
        let mut g = Graph::new(3);
        g.add(1, 0);
        g.add(2, 1);
        assert_eq!(g.find_cycle(), None);
        g.add(0, 2);
        let cycle = g.find_cycle().unwrap();
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(cycle.len(), 4);
    }

    #[test]
    fn a_self_dependency_is_a_cycle() {
        let mut g = Graph::new(1);
        g.add(0, 0);
        assert_eq!(g.find_cycle(), Some(vec![0, 0]));
    }
}
