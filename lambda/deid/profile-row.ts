/** An action of PS3.15 Table E.1-1: D dummy, Z zero length, X remove, K keep,
 * C clean, U replace UID, or a combination such as 'X/Z/D' (resolved in rules.ts). */
export type ProfileAction = string;

/** One row of the generated Table E.1-1 (lambda/deid/profile-table.generated.ts). */
export interface ProfileRow {
  /** 8 lower-case hex digits; 'x' stands for any digit (repeating groups); 'private' for odd groups. */
  readonly tag: string;
  readonly name: string;
  /** The table's "in Std. Comp. IOD" column. */
  readonly inStdIod: boolean;
  readonly basic: ProfileAction;
  readonly rtnLongFullDatesOpt?: ProfileAction;
  readonly rtnLongModifDatesOpt?: ProfileAction;
  readonly cleanDescOpt?: ProfileAction;
  readonly rtnUIDsOpt?: ProfileAction;
  readonly rtnDevIdOpt?: ProfileAction;
  readonly rtnPatCharsOpt?: ProfileAction;
  readonly rtnInstIdOpt?: ProfileAction;
  readonly cleanGraphOpt?: ProfileAction;
  readonly cleanStructContOpt?: ProfileAction;
  readonly rtnSafePrivOpt?: ProfileAction;
}
