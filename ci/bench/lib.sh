# Shared by the ci/bench*.sh scripts (sourced, not run).

# Median of the numbers on stdin, printed with 6 decimals ("nan" if none).
median_of() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "nan"; exit} m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.6f", m}'; }

# Median of the "Cost/.../calls is X s." figures of a transcript on stdin.
median() { grep -o 'calls is -\?[0-9.]*s' | sed 's/calls is //; s/s$//' | median_of; }
