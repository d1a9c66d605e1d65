// The shape of the signature data files, as typebox schemas. Apart from index.ts so the agent,
// which checks the data with generated validators, does not load typebox (scripts/gen-checks.ts).
import Type, { type Static } from 'typebox';

const Level = Type.Union([
  Type.Literal('informational'),
  Type.Literal('low'),
  Type.Literal('medium'),
  Type.Literal('high'),
  Type.Literal('critical'),
]);
export type SignatureLevel = Static<typeof Level>;

const Technique = Type.String({ pattern: '^T[0-9]{4}(\\.[0-9]{3})?$' });
const Id = Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$' });
const Names = Type.Array(Type.String({ minLength: 1 }), { minItems: 1 });
const NamesPerPlatform = Type.Object(
  { windows: Type.Optional(Names), linux: Type.Optional(Names), macos: Type.Optional(Names) },
  { additionalProperties: false },
);
const PlatformName = Type.Union([Type.Literal('windows'), Type.Literal('linux'), Type.Literal('macos')]);

const SnifferSignature = Type.Object(
  {
    id: Id,
    name: Type.String({ minLength: 1 }),
    names: NamesPerPlatform,
    technique: Technique,
    level: Level,
    notes: Type.String(),
  },
  { additionalProperties: false },
);
export type SnifferSignature = Static<typeof SnifferSignature>;

const CommandLinePattern = Type.Object(
  {
    id: Id,
    name: Type.String({ minLength: 1 }),
    platforms: Type.Array(PlatformName, { minItems: 1 }),
    /** When present, the pattern only applies to these executables. */
    images: Type.Optional(NamesPerPlatform),
    /** All of these substrings, case-insensitive. */
    contains: Type.Optional(Names),
    /** At least one of these substrings, case-insensitive. */
    containsAny: Type.Optional(Names),
    /** A case-sensitive regular expression (option letters are case-sensitive). */
    regex: Type.Optional(Type.String({ minLength: 1 })),
    technique: Technique,
    level: Level,
  },
  { additionalProperties: false },
);
export type CommandLinePattern = Static<typeof CommandLinePattern>;

export const SniffersFile = Type.Object({
  $comment: Type.Optional(Type.String()),
  updated: Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' }),
  sniffers: Type.Array(SnifferSignature, { minItems: 1 }),
  commandLinePatterns: Type.Array(CommandLinePattern),
});
export type SniffersFile = Static<typeof SniffersFile>;

const CaptureDriverSignature = Type.Object(
  {
    id: Id,
    serviceNames: Names,
    displayName: Type.String(),
    description: Type.String(),
    builtin: Type.Boolean(),
    technique: Technique,
    level: Level,
  },
  { additionalProperties: false },
);
export type CaptureDriverSignature = Static<typeof CaptureDriverSignature>;

export const CaptureDriversFile = Type.Object({
  $comment: Type.Optional(Type.String()),
  drivers: Type.Array(CaptureDriverSignature, { minItems: 1 }),
});
export type CaptureDriversFile = Static<typeof CaptureDriversFile>;
