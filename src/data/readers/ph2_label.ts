// PH2's diagnoses and one lesion's diagnosis as its tables give it (the .txt and the .xlsx).

/** PH2's "Clinical Diagnosis" values 0, 1, 2. */
export const PH2_CLASSES = ['common_nevus', 'atypical_nevus', 'melanoma'] as const;

/** A lesion's diagnosis (index into PH2_CLASSES) and where it is written ("file:line"). */
export interface Ph2Label {
  label: number;
  where: string;
}
