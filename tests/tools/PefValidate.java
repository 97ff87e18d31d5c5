// Validates PEF files against the PEF 2008-1 schema (RelaxNG and its Schematron rules) with the validator
// Debian's brailleutils ships; its own `validate` command fails on Java 17. One JVM for many files.
// Prints "VALID <path>" or "INVALID <path>" followed by the validator's report.
import java.io.InputStream;
import org.daisy.braille.pef.PEFValidator;

public class PefValidate {
    public static void main(String[] args) throws Exception {
        boolean all = true;
        for (String path : args) {
            PEFValidator validator = new PEFValidator();
            boolean ok = validator.validate(new java.io.File(path).toURI().toURL());
            System.out.println((ok ? "VALID " : "INVALID ") + path);
            if (!ok) {
                all = false;
                InputStream report = validator.getReportStream();
                if (report != null) {
                    System.out.println(new String(report.readAllBytes(), "UTF-8"));
                }
            }
        }
        System.exit(all ? 0 : 1);
    }
}
