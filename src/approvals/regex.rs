//! A small ECMAScript regular-expression matcher for hand-written allowlist `argPattern`s.
//!
//! The TS host evaluates `new RegExp(argPattern).test(args)` (no flags) and treats an invalid
//! pattern as "no match". There is no regex crate in this build, so this module implements the
//! subset of JavaScript regex syntax whose meaning it can reproduce exactly, and reports
//! everything else as [`Unsupported`]. Callers treat an unsupported pattern as **never
//! matching** (fail closed: a rule the node cannot evaluate exactly never allows anything).
//!
//! Supported, with JavaScript (non-`u`, non-`i`, non-`m`) semantics over UTF-16 code units:
//! literals; `.` (any unit but `\n \r \u2028 \u2029`); `^` `$` (input start/end); `\b` `\B`;
//! classes `[...]` `[^...]` with ranges and `\d \D \w \W \s \S`; escapes `\t \n \r \v \f \0`,
//! `\xHH`, `\uHHHH`, `\cX`-free punctuation escapes (`\.`, `\\`, `\/`, `\(`, ...); groups
//! `(...)`, `(?:...)`; alternation `|`; quantifiers `* + ? {n} {n,} {n,m}`, greedy or lazy.
//!
//! Unsupported (never matches): look-around `(?=` `(?!` `(?<=` `(?<!`, named groups, back
//! references (`\1`, `\k<..>`), `\p{..}`, `\c`, unknown letter escapes, and the Annex B
//! leniencies (a stray `{`, `}` or `]` as a literal, `\8`). Counted repetitions above 1000 are
//! unsupported too.
//!
//! Matching is a Thompson-NFA simulation: linear in the input, no catastrophic backtracking.
//! Greediness does not change *whether* a pattern matches, which is all `test()` asks.

/// The pattern uses syntax this matcher does not evaluate exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

#[derive(Debug, Clone)]
enum ClassItem {
    Range(u16, u16),
    Digit(bool),
    Word(bool),
    Space(bool),
}

#[derive(Debug, Clone)]
enum Node {
    Empty,
    Unit(u16),
    Any,
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
    Start,
    End,
    WordBoundary(bool),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
}

const MAX_REPEAT: u32 = 1000;
const MAX_PROGRAM: usize = 50_000;

fn is_line_terminator(u: u16) -> bool {
    matches!(u, 0x0A | 0x0D | 0x2028 | 0x2029)
}

fn is_js_space(u: u16) -> bool {
    matches!(
        u,
        0x09..=0x0D | 0x20 | 0xA0 | 0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000 | 0xFEFF
    )
}

fn is_word_unit(u: u16) -> bool {
    matches!(u, 0x30..=0x39 | 0x41..=0x5A | 0x61..=0x7A | 0x5F)
}

struct Parser {
    units: Vec<u16>,
    pos: usize,
}

fn unsupported<T>(what: &str) -> Result<T, Unsupported> {
    Err(Unsupported(what.to_string()))
}

impl Parser {
    fn peek(&self) -> Option<u16> {
        self.units.get(self.pos).copied()
    }
    fn peek_at(&self, offset: usize) -> Option<u16> {
        self.units.get(self.pos + offset).copied()
    }
    fn eat(&mut self, unit: u8) -> bool {
        if self.peek() == Some(unit as u16) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn parse_alternation(&mut self) -> Result<Node, Unsupported> {
        let mut branches = vec![self.parse_concat()?];
        while self.eat(b'|') {
            branches.push(self.parse_concat()?);
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(branches)
        })
    }

    fn parse_concat(&mut self) -> Result<Node, Unsupported> {
        let mut items = Vec::new();
        while let Some(u) = self.peek() {
            if u == b'|' as u16 || u == b')' as u16 {
                break;
            }
            let atom = self.parse_atom()?;
            let atom = self.parse_quantifier(atom)?;
            items.push(atom);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(items),
        })
    }

    fn parse_number(&mut self) -> Option<u32> {
        let start = self.pos;
        let mut value: u32 = 0;
        while let Some(u) = self.peek() {
            if !(0x30..=0x39).contains(&u) {
                break;
            }
            value = value.saturating_mul(10).saturating_add((u - 0x30) as u32);
            self.pos += 1;
        }
        (self.pos > start).then_some(value)
    }

    fn parse_quantifier(&mut self, atom: Node) -> Result<Node, Unsupported> {
        let (min, max) = match self.peek() {
            Some(u) if u == b'*' as u16 => {
                self.pos += 1;
                (0, None)
            }
            Some(u) if u == b'+' as u16 => {
                self.pos += 1;
                (1, None)
            }
            Some(u) if u == b'?' as u16 => {
                self.pos += 1;
                (0, Some(1))
            }
            Some(u) if u == b'{' as u16 => {
                self.pos += 1;
                let Some(min) = self.parse_number() else {
                    return unsupported("literal {");
                };
                let max = if self.eat(b',') {
                    if self.peek() == Some(b'}' as u16) {
                        None
                    } else {
                        match self.parse_number() {
                            Some(max) => Some(max),
                            None => return unsupported("literal {"),
                        }
                    }
                } else {
                    Some(min)
                };
                if !self.eat(b'}') {
                    return unsupported("literal {");
                }
                if let Some(max) = max {
                    if max < min {
                        // A SyntaxError in JS: an invalid regex never matches.
                        return unsupported("quantifier range out of order");
                    }
                }
                if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT) {
                    return unsupported("repetition count too large");
                }
                (min, max)
            }
            _ => return Ok(atom),
        };
        // Lazy and greedy quantifiers accept the same inputs.
        self.eat(b'?');
        match atom {
            Node::Start | Node::End | Node::WordBoundary(_) => unsupported("quantified assertion"),
            atom => Ok(Node::Repeat {
                node: Box::new(atom),
                min,
                max,
            }),
        }
    }

    fn parse_atom(&mut self) -> Result<Node, Unsupported> {
        let Some(u) = self.peek() else {
            return unsupported("unexpected end");
        };
        self.pos += 1;
        match u {
            0x5E => Ok(Node::Start), // ^
            0x24 => Ok(Node::End),   // $
            0x2E => Ok(Node::Any),   // .
            0x28 => {
                // (
                if self.peek() == Some(b'?' as u16) {
                    if self.peek_at(1) == Some(b':' as u16) {
                        self.pos += 2;
                    } else {
                        return unsupported("look-around or named group");
                    }
                }
                let inner = self.parse_alternation()?;
                if !self.eat(b')') {
                    return unsupported("unbalanced (");
                }
                Ok(inner)
            }
            0x29 => unsupported("unbalanced )"),
            0x5B => self.parse_class(),
            0x5D | 0x7B | 0x7D => unsupported("Annex B literal bracket"),
            0x2A | 0x2B | 0x3F => unsupported("nothing to repeat"),
            0x5C => self.parse_escape(false).map(|item| match item {
                Escape::Unit(u) => Node::Unit(u),
                Escape::Class(item) => Node::Class {
                    negated: false,
                    items: vec![item],
                },
                Escape::WordBoundary(b) => Node::WordBoundary(b),
            }),
            other => Ok(Node::Unit(other)),
        }
    }

    fn parse_hex(&mut self, digits: usize) -> Result<u16, Unsupported> {
        let mut value: u16 = 0;
        for _ in 0..digits {
            let Some(u) = self.peek() else {
                return unsupported("short hex escape");
            };
            let digit = match u {
                0x30..=0x39 => u - 0x30,
                0x41..=0x46 => u - 0x41 + 10,
                0x61..=0x66 => u - 0x61 + 10,
                _ => return unsupported("short hex escape"),
            };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }

    fn parse_escape(&mut self, in_class: bool) -> Result<Escape, Unsupported> {
        let Some(u) = self.peek() else {
            return unsupported("trailing backslash");
        };
        self.pos += 1;
        let c = char::from_u32(u as u32).unwrap_or('\u{FFFD}');
        Ok(match c {
            't' => Escape::Unit(0x09),
            'n' => Escape::Unit(0x0A),
            'v' => Escape::Unit(0x0B),
            'f' => Escape::Unit(0x0C),
            'r' => Escape::Unit(0x0D),
            '0' if !self.peek().is_some_and(|n| (0x30..=0x39).contains(&n)) => Escape::Unit(0),
            'x' => Escape::Unit(self.parse_hex(2)?),
            'u' => Escape::Unit(self.parse_hex(4)?),
            'd' => Escape::Class(ClassItem::Digit(false)),
            'D' => Escape::Class(ClassItem::Digit(true)),
            'w' => Escape::Class(ClassItem::Word(false)),
            'W' => Escape::Class(ClassItem::Word(true)),
            's' => Escape::Class(ClassItem::Space(false)),
            'S' => Escape::Class(ClassItem::Space(true)),
            'b' if in_class => Escape::Unit(0x08),
            'b' => Escape::WordBoundary(true),
            'B' if !in_class => Escape::WordBoundary(false),
            '-' if in_class => Escape::Unit(u),
            c if c.is_ascii_alphanumeric() => return unsupported("escape with unknown meaning"),
            c if c.is_ascii() => Escape::Unit(u),
            _ => return unsupported("escape of a non-ASCII character"),
        })
    }

    fn parse_class(&mut self) -> Result<Node, Unsupported> {
        let negated = self.eat(b'^');
        let mut items = Vec::new();
        loop {
            let Some(u) = self.peek() else {
                return unsupported("unterminated class");
            };
            if u == b']' as u16 {
                self.pos += 1;
                break;
            }
            let start = self.class_atom()?;
            // A range needs a '-' followed by something other than ']'.
            if self.peek() == Some(b'-' as u16) && self.peek_at(1).is_some_and(|n| n != b']' as u16)
            {
                self.pos += 1;
                let end = self.class_atom()?;
                match (start, end) {
                    (Escape::Unit(a), Escape::Unit(b)) if a <= b => {
                        items.push(ClassItem::Range(a, b))
                    }
                    (Escape::Unit(_), Escape::Unit(_)) => {
                        return unsupported("class range out of order")
                    }
                    _ => return unsupported("class escape in a range"),
                }
                continue;
            }
            match start {
                Escape::Unit(a) => items.push(ClassItem::Range(a, a)),
                Escape::Class(item) => items.push(item),
                Escape::WordBoundary(_) => return unsupported("assertion in class"),
            }
        }
        Ok(Node::Class { negated, items })
    }

    fn class_atom(&mut self) -> Result<Escape, Unsupported> {
        let Some(u) = self.peek() else {
            return unsupported("unterminated class");
        };
        self.pos += 1;
        if u == b'\\' as u16 {
            return self.parse_escape(true);
        }
        if u == b'[' as u16 {
            return unsupported("[ inside a class");
        }
        Ok(Escape::Unit(u))
    }
}

enum Escape {
    Unit(u16),
    Class(ClassItem),
    WordBoundary(bool),
}

#[derive(Debug, Clone)]
enum Inst {
    Unit(u16),
    Any,
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
    Split(usize, usize),
    Jmp(usize),
    Start,
    End,
    WordBoundary(bool),
    Match,
}

struct Compiler {
    program: Vec<Inst>,
}

impl Compiler {
    fn emit(&mut self, inst: Inst) -> Result<usize, Unsupported> {
        if self.program.len() >= MAX_PROGRAM {
            return unsupported("pattern too large");
        }
        self.program.push(inst);
        Ok(self.program.len() - 1)
    }

    fn compile(&mut self, node: &Node) -> Result<(), Unsupported> {
        match node {
            Node::Empty => {}
            Node::Unit(u) => {
                self.emit(Inst::Unit(*u))?;
            }
            Node::Any => {
                self.emit(Inst::Any)?;
            }
            Node::Class { negated, items } => {
                self.emit(Inst::Class {
                    negated: *negated,
                    items: items.clone(),
                })?;
            }
            Node::Start => {
                self.emit(Inst::Start)?;
            }
            Node::End => {
                self.emit(Inst::End)?;
            }
            Node::WordBoundary(b) => {
                self.emit(Inst::WordBoundary(*b))?;
            }
            Node::Concat(items) => {
                for item in items {
                    self.compile(item)?;
                }
            }
            Node::Alt(branches) => {
                let mut jumps = Vec::new();
                for (index, branch) in branches.iter().enumerate() {
                    if index + 1 < branches.len() {
                        let split = self.emit(Inst::Split(0, 0))?;
                        self.compile(branch)?;
                        jumps.push(self.emit(Inst::Jmp(0))?);
                        let next = self.program.len();
                        self.program[split] = Inst::Split(split + 1, next);
                    } else {
                        self.compile(branch)?;
                    }
                }
                let end = self.program.len();
                for jump in jumps {
                    self.program[jump] = Inst::Jmp(end);
                }
            }
            Node::Repeat { node, min, max } => {
                for _ in 0..*min {
                    self.compile(node)?;
                }
                match max {
                    None => {
                        // L: split body, out; body; jmp L
                        let split = self.emit(Inst::Split(0, 0))?;
                        self.compile(node)?;
                        self.emit(Inst::Jmp(split))?;
                        let out = self.program.len();
                        self.program[split] = Inst::Split(split + 1, out);
                    }
                    Some(max) => {
                        let mut splits = Vec::new();
                        for _ in *min..*max {
                            splits.push(self.emit(Inst::Split(0, 0))?);
                            self.compile(node)?;
                        }
                        let out = self.program.len();
                        for split in splits {
                            self.program[split] = Inst::Split(split + 1, out);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Regex {
    program: Vec<Inst>,
}

impl Regex {
    /// Compiles `pattern`, or reports why its meaning cannot be reproduced exactly.
    pub fn new(pattern: &str) -> Result<Regex, Unsupported> {
        let mut parser = Parser {
            units: pattern.encode_utf16().collect(),
            pos: 0,
        };
        let ast = parser.parse_alternation()?;
        if parser.pos != parser.units.len() {
            return unsupported("unbalanced )");
        }
        let mut compiler = Compiler {
            program: Vec::new(),
        };
        compiler.compile(&ast)?;
        compiler.emit(Inst::Match)?;
        Ok(Regex {
            program: compiler.program,
        })
    }

    /// `RegExp.prototype.test`: does the pattern match anywhere in `subject`?
    pub fn test(&self, subject: &str) -> bool {
        let input: Vec<u16> = subject.encode_utf16().collect();
        let n = self.program.len();
        let mut current: Vec<usize> = Vec::new();
        let mut next: Vec<usize> = Vec::new();
        let mut seen = vec![usize::MAX; n];
        let mut generation = 0usize;
        for pos in 0..=input.len() {
            // Unanchored search: a thread may start at every position.
            if self.add_thread(&mut current, &mut seen, generation, 0, pos, &input) {
                return true;
            }
            if pos == input.len() {
                break;
            }
            generation += 1;
            let unit = input[pos];
            next.clear();
            for &pc in &current {
                let advances = match &self.program[pc] {
                    Inst::Unit(u) => *u == unit,
                    Inst::Any => !is_line_terminator(unit),
                    Inst::Class { negated, items } => class_contains(items, unit) != *negated,
                    _ => false,
                };
                if advances
                    && self.add_thread(&mut next, &mut seen, generation, pc + 1, pos + 1, &input)
                {
                    return true;
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
        false
    }

    /// Follows epsilon transitions from `pc` at `pos`; true when `Match` is reachable.
    fn add_thread(
        &self,
        list: &mut Vec<usize>,
        seen: &mut [usize],
        generation: usize,
        pc: usize,
        pos: usize,
        input: &[u16],
    ) -> bool {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if seen[pc] == generation {
                continue;
            }
            seen[pc] = generation;
            match &self.program[pc] {
                Inst::Match => return true,
                Inst::Jmp(target) => stack.push(*target),
                Inst::Split(a, b) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Inst::Start => {
                    if pos == 0 {
                        stack.push(pc + 1);
                    }
                }
                Inst::End => {
                    if pos == input.len() {
                        stack.push(pc + 1);
                    }
                }
                Inst::WordBoundary(expected) => {
                    let before = pos > 0 && is_word_unit(input[pos - 1]);
                    let after = pos < input.len() && is_word_unit(input[pos]);
                    if (before != after) == *expected {
                        stack.push(pc + 1);
                    }
                }
                Inst::Unit(_) | Inst::Any | Inst::Class { .. } => list.push(pc),
            }
        }
        false
    }
}

fn class_contains(items: &[ClassItem], unit: u16) -> bool {
    items.iter().any(|item| match item {
        ClassItem::Range(a, b) => (*a..=*b).contains(&unit),
        ClassItem::Digit(negated) => (0x30..=0x39).contains(&unit) != *negated,
        ClassItem::Word(negated) => is_word_unit(unit) != *negated,
        ClassItem::Space(negated) => is_js_space(unit) != *negated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, subject: &str) -> bool {
        Regex::new(pattern).unwrap().test(subject)
    }

    #[test]
    fn unanchored_like_js_test() {
        assert!(m("status", "git status --short"));
        assert!(!m("^status", "git status"));
        assert!(m("^-s$", "-s"));
        assert!(!m("^-s$", "-s -a"));
        assert!(m("^(status|log)( .*)?$", "log --oneline"));
        assert!(!m("^(status|log)( .*)?$", "push origin"));
    }

    #[test]
    fn classes_escapes_and_quantifiers() {
        assert!(m("^\\d{2,3}$", "123"));
        assert!(!m("^\\d{2,3}$", "1234"));
        assert!(m("^[a-z_-]+$", "foo-bar_baz"));
        assert!(!m("^[^/]+$", "a/b"));
        assert!(m("^\\S+\\s\\w+$", "x\u{a0}y"));
        assert!(m("a\\.b", "a.b"));
        assert!(!m("a\\.b", "axb"));
        assert!(m("^\\x41\\u0042$", "AB"));
        assert!(m("^a*?b+?$", "aab"));
        assert!(m("\\bfoo\\b", "a foo b"));
        assert!(!m("\\bfoo\\b", "afoob"));
        assert!(m("^(?:a|)$", ""));
        assert!(m("^\\0$", "\0"));
        assert!(
            m("[]|x", "x"),
            "[] matches nothing, but the alternative does"
        );
        assert!(m("^[^]$", "\n"));
    }

    #[test]
    fn dot_excludes_line_terminators_and_counts_utf16_units() {
        assert!(!m("^.$", "\n"));
        assert!(
            m("^..$", "😀"),
            "an astral character is two UTF-16 units in JS"
        );
        assert!(!m("^.$", "😀"));
    }

    #[test]
    fn nested_empty_loops_terminate() {
        assert!(m("^(a*)*$", "aaaa"));
        assert!(!m("^(a*)*b$", &"a".repeat(5000)));
        assert!(m("^(a|aa)+$", &"a".repeat(5000)));
    }

    #[test]
    fn unsupported_syntax_is_reported() {
        for pattern in [
            "(?=x)", "(?!x)", "(?<=x)", "(?<!x)", "(?<n>x)", "(a)\\1", "\\k<n>", "\\p{L}", "\\cA",
            "a{", "a}", "]", "\\q", "(", ")", "a{3,2}", "*", "x{1001}", "[z-a]", "\\8", "[\\d-z]",
        ] {
            assert!(
                Regex::new(pattern).is_err(),
                "{pattern} must be unsupported"
            );
        }
    }
}
