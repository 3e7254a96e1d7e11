// Quoting for systemd, proven with systemd 252's own parser: every nasty value below goes through
// renderContainerUnit / renderOneShotUnit into a unit file, `systemd --test` loads it, and the argv
// and environment read back from its dump must be exactly what we meant.
import { strict as assert } from "node:assert";
import { ContainerUnit, OneShotUnit } from "../units/model";
import { environmentAssignment, execLine, execLines, execWord, textValue } from "../units/quote";
import { renderContainerUnit, renderOneShotUnit } from "../units/systemd";
import { DOCKER, NETWORK_NAME, containerUnitName } from "../units/layout";
import { Dump, decodeCommandLine, displayLine, dumpUnits, execTimeArgv } from "./helpers/systemd";

/** Values that break naive quoting. None contains a newline followed by a tab (see the helper). */
const NASTY: readonly (readonly [string, string])[] = [
    ["space", "a b"],
    ["leading and trailing spaces", "  padded  "],
    ["tab", "a\tb"],
    ["double quotes inside", 'say "hi"'],
    ["a double-quoted word", '"quoted"'],
    ["a single-quoted word", "'single'"],
    ["apostrophe", "it's"],
    ["backslash", "a\\b"],
    ["trailing backslash", "ends\\"],
    ["a lone backslash", "\\"],
    ["backslash then quote", '\\"'],
    ["a C escape written out", "\\n\\x41\\u00e9"],
    ["a quoted C escape written out", '"\\x01"'],
    ["percent", "100%"],
    ["specifier %n", "%n"],
    ["escaped specifier %%", "%%"],
    ["specifiers %i%u%H", "%i%u%H"],
    ["$HOME", "$HOME"],
    ["${HOME}", "${HOME}"],
    ["$$", "$$"],
    ["a lone $", "$"],
    ["$ at the end", "cost$"],
    ["%% and $$ together", "%%n$$"],
    ["a lone ;", ";"],
    ["backslash semicolon", "\\;"],
    ["leading ;", ";x"],
    ["the empty string", ""],
    ["newline", "line1\nline2"],
    ["trailing newline", "end\n"],
    ["carriage return", "a\rb"],
    ["CRLF", "a\r\nb"],
    ["control character \\x01", "\x01"],
    ["bell, escape, delete", "\x07\x1b\x7f"],
    ["vertical tab, form feed, backspace", "\v\f\b"],
    ["é", "é"],
    ["日本", "日本"],
    ["emoji", "🎉"],
    ["Unicode spaces and BOM", "\u00a0\u0085\u2028\ufeff"],
    ["leading -", "-rf"],
    ["--", "--"],
    ["=", "="],
    ["several =", "a=b=c"],
    ["#", "#"],
    ["leading #", "#comment"],
    ["glob characters", "*?[a]"],
    ["shell operators", "a|b&c;d<e>f(g)!h"],
    ["backticks", "`id`"],
    ["a long value", "x".repeat(3000)],
];

/** systemd refuses these in Environment= in any form; Exec*= words carry them as byte escapes. */
const NONCHARACTERS: readonly (readonly [string, string])[] = [
    ["noncharacters U+FDD0 U+FFFE", "\uFDD0\uFFFE"],
    ["noncharacter U+10FFFF", "\u{10FFFF}"],
];

const IMAGE = "example.org/nasty:1";
const pad = (i: number) => String(i).padStart(2, "0");

function nastyContainer(i: number, value: string): ContainerUnit {
    return {
        kind: "container",
        name: `nasty-${pad(i)}`,
        image: { kind: "registry", ref: IMAGE },
        env: { NASTY: value, A_FIRST: "plain" },
        // Alone, the first word starts a continuation line; after --label it shares one.
        extraArgs: [value, "--label", value],
        command: [value, "--flag", value],
    };
}

/** The argv we mean, written out from the model's documented meaning, not from the renderer. */
function intendedDockerRun(i: number, value: string): string[] {
    return [
        DOCKER,
        "run",
        "--rm",
        "--name",
        `nasty-${pad(i)}`,
        "--network",
        NETWORK_NAME,
        "-e",
        "A_FIRST=plain",
        "-e",
        `NASTY=${value}`,
        value,
        "--label",
        value,
        IMAGE,
        value,
        "--flag",
        value,
    ];
}

function nastyOneShot(i: number, value: string, withEnvironment: boolean): OneShotUnit {
    return {
        kind: "oneshot",
        name: `nasty-oneshot-${pad(i)}.service`,
        description: `Nasty value ${i}`,
        environment: withEnvironment ? { NASTY: value, A_FIRST: "plain" } : undefined,
        exec: [["/usr/bin/printf", "%s", value]],
    };
}

/** What systemd keeps of a Description: textValue's one line, with ASCII whitespace trimmed. */
function describable(value: string): boolean {
    // eslint-disable-next-line no-control-regex -- control characters are exactly what this looks for
    return value.trim() !== "" && !/[\x00-\x1f\x7f\uFDD0\uFFFE]|\u{10FFFF}/u.test(value);
}

// Used to show that the oracle notices a line systemd ignores.
const BROKEN: { name: string; content: string } = {
    name: "oracle-self-check.service",
    content: '[Unit]\nDescription=check\n\n[Service]\nEnvironment="1BAD=x"\nExecStart=/usr/bin/echo "\\x00"\n',
};

describe("quoting for systemd (units/quote.ts)", () => {
    describe("execWord, exact text", () => {
        const cases: readonly (readonly [string, string])[] = [
            ["plain", "plain"],
            ["--network=coreos-containers", "--network=coreos-containers"],
            ["a b", '"a b"'],
            ["", '""'],
            [";", "\\;"],
            [";x", '";x"'],
            ["#x", '"#x"'],
            ["x#", "x#"],
            ["100%", "100%%"],
            ["$HOME", "$$HOME"],
            ["${HOME}", "$${HOME}"],
            ['say "hi"', '"say \\"hi\\""'],
            ["'single'", "\"'single'\""],
            ["ends\\", '"ends\\\\"'],
            ["a\nb", '"a\\nb"'],
            ["a\tb", '"a\\tb"'],
            ["\x01", '"\\x01"'],
            ["\x7f", '"\\x7f"'],
            ["é日本", "é日本"],
            ["\uFFFE", '"\\xef\\xbf\\xbe"'],
            ["50% of $x y", '"50%% of $$x y"'],
        ];
        for (const [word, expected] of cases) {
            it(`${JSON.stringify(word)} → ${expected}`, () => assert.equal(execWord(word), expected));
        }

        it("refuses what no unit can carry: NUL and lone surrogates", () => {
            assert.throws(() => execWord("a\0b"), /NUL/);
            assert.throws(() => execWord("a\uD800b"), /surrogate/);
            assert.throws(() => execLine(["/bin/x", "\uDC00"]), /surrogate/);
        });

        it("names what it refuses: the argument, or the environment variable's value", () => {
            assert.throws(() => execWord("a\0b"), /^Error: the argument "a\\u0000b" contains a NUL/);
            assert.throws(() => environmentAssignment("KEY", "a\0b"), /^Error: the value of KEY "a\\u0000b" contains a NUL/);
        });

        it("splits a command over continuation lines, one per non-empty group", () => {
            assert.equal(execLines(["/bin/a", "run"], [["-x", "1"], [], ["-y"]]), "/bin/a run \\\n  -x 1 \\\n  -y");
            assert.equal(execLines(["/bin/a"], [[], []]), "/bin/a");
        });
    });

    describe("environmentAssignment and textValue, exact text", () => {
        it("quotes the whole assignment, doubles % but leaves $ alone", () => {
            assert.equal(environmentAssignment("K", "plain"), "K=plain");
            assert.equal(environmentAssignment("K", "a b"), '"K=a b"');
            assert.equal(environmentAssignment("K", "$HOME 100%"), '"K=$HOME 100%%"');
            assert.equal(environmentAssignment("K", ""), "K=");
            assert.equal(environmentAssignment("K", "#x"), "K=#x");
        });

        it("refuses what systemd would ignore: names that are not shell names, noncharacters, NUL", () => {
            assert.throws(() => environmentAssignment("a.b", "x"), /shell variable name/);
            assert.throws(() => environmentAssignment("1X", "x"), /shell variable name/);
            assert.throws(() => environmentAssignment("", "x"), /shell variable name/);
            assert.throws(() => environmentAssignment("K", "\uFFFE"), /noncharacter/);
            assert.throws(() => environmentAssignment("K", "\0"), /NUL/);
        });

        it("keeps free text on one line and never lets it continue onto the next", () => {
            assert.equal(textValue("50% done"), "50%% done");
            assert.equal(textValue("a\nb\r\nc"), "a b c");
            assert.equal(textValue("ends\\"), "ends\\ ");
            assert.equal(textValue("ends\\\\"), "ends\\\\");
        });

        it("turns a character systemd refuses into a space, so the words either side stay apart, and a lone surrogate into U+FFFD", () => {
            assert.equal(textValue("a\uFDD0b\u{10FFFF}c\uFFFEd"), "a b c d");
            assert.equal(textValue("a\uD800b"), "a\uFFFDb");
        });
    });

    describe("the decoder of systemd's dump (test/helpers/systemd.ts)", () => {
        it("decodes what systemd 252 prints, as observed", () => {
            assert.deepEqual(
                decodeCommandLine('/usr/bin/echo "a b" "c\\"d" "e\\\\f" "\\$\\$x" "" ";" "\\001" "\\177" #z é "\\357\\277\\276"'),
                ["/usr/bin/echo", "a b", 'c"d', "e\\f", "$$x", "", ";", "\x01", "\x7f", "#z", "é", "\uFFFE"],
            );
            assert.equal(displayLine(["/x", "it's", "tab\there"]), '/x "it\'s" "tab\\there"');
        });

        it("refuses anything systemd would not have printed that way", () => {
            for (const bad of ['"ab"', "a  b", '"a', '"\\q"', 'a"b"', "a\tb", " a", "a ", '"a"b', "", '"\\x41"']) {
                assert.throws(() => decodeCommandLine(bad), /cannot decode/, JSON.stringify(bad));
            }
        });

        it("applies exec-time $$ → $ and refuses variable references", () => {
            assert.deepEqual(execTimeArgv(["/x", "$$HOME", "a$$b", "cost$", "$${X}"]), ["/x", "$HOME", "a$b", "cost$", "${X}"]);
            assert.throws(() => execTimeArgv(["/x", "$HOME"]), /whole-word/);
            assert.throws(() => execTimeArgv(["/x", "$"]), /whole-word/);
            assert.throws(() => execTimeArgv(["/x", "a${HOME}"]), /substitutes/);
        });
    });

    describe("every nasty value reaches the program unchanged, as systemd 252 parses it", function () {
        this.timeout(60_000);
        const exec = [...NASTY, ...NONCHARACTERS];
        let dump: Dump;
        let oracleWarnings: string[];

        before(() => {
            const units = [
                ...exec.map(([, v], i) => renderContainerUnit(nastyContainer(i, v))),
                ...exec.map(([, v], i) => renderOneShotUnit(nastyOneShot(i, v, i < NASTY.length))),
                ...NASTY.filter(([, v]) => describable(v)).map(([, v], i) =>
                    renderContainerUnit({ ...nastyContainer(i, "x"), name: `described-${pad(i)}`, description: v }),
                ),
                ...NONCHARACTERS.map(([, v], i) =>
                    renderContainerUnit({ ...nastyContainer(i, "x"), name: `undescribable-${pad(i)}`, description: `before ${v} after` }),
                ),
                BROKEN,
            ];
            dump = dumpUnits(units);
            oracleWarnings = dump.warnings.filter((l) => l.includes(BROKEN.name));
        });

        it("systemd warns about none of our units", () => {
            assert.deepEqual(
                dump.warnings.filter((l) => !l.includes(BROKEN.name)),
                [],
            );
        });

        it("the oracle notices lines systemd ignores (self-check)", () => {
            assert.ok(
                oracleWarnings.some((l) => /Invalid environment assignment/.test(l)),
                oracleWarnings.join("\n"),
            );
            assert.ok(
                oracleWarnings.some((l) => /unknown escape/.test(l)),
                oracleWarnings.join("\n"),
            );
            assert.deepEqual(dump.units.get(BROKEN.name)!.commands.get("ExecStart")![0]!.argv, ["/usr/bin/echo", "\\x00"]);
        });

        exec.forEach(([label, value], i) => {
            it(`as -e value, extra argument and command word: ${label}`, () => {
                const unit = dump.units.get(containerUnitName(`nasty-${pad(i)}`))!;
                assert.deepEqual(unit.properties.get("Unit Load State"), ["loaded"]);
                const starts = unit.commands.get("ExecStart") ?? [];
                assert.equal(starts.length, 1);
                assert.deepEqual(starts[0]!.argv, intendedDockerRun(i, value));
            });

            it(`as a one-shot's ExecStart word${i < NASTY.length ? " and Environment= value" : ""}: ${label}`, () => {
                const unit = dump.units.get(`nasty-oneshot-${pad(i)}.service`)!;
                assert.deepEqual(
                    unit.commands.get("ExecStart")?.map((c) => c.argv),
                    [["/usr/bin/printf", "%s", value]],
                );
                assert.deepEqual(unit.environment, i < NASTY.length ? ["A_FIRST=plain", `NASTY=${value}`] : []);
            });
        });

        // systemd refuses a whole line holding a noncharacter ("not UTF-8 clean"): the unit would lose its
        // description, with a warning. The readable text around it must reach systemd.
        NONCHARACTERS.forEach(([label], i) => {
            it(`as Description=, the readable text around ${label}`, () => {
                const name = containerUnitName(`undescribable-${pad(i)}`);
                assert.deepEqual(
                    dump.warnings.filter((l) => l.includes(name)),
                    [],
                );
                assert.match(dump.units.get(name)!.properties.get("Description")?.join("\n") ?? "", /^before\s+after$/);
            });
        });

        NASTY.filter(([, v]) => describable(v)).forEach(([label, value], i) => {
            it(`as Description=: ${label}`, () => {
                const unit = dump.units.get(containerUnitName(`described-${pad(i)}`))!;
                assert.deepEqual(unit.properties.get("Description"), [value.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, "")]);
            });
        });
    });
});
